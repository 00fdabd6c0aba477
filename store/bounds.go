package store

import "github.com/shopspring/decimal"

// Bounds on the quantities and amounts that enter omsd (back-office
// requests, orders). Quantities are int64 and sums of them must never
// wrap: with at most 10^12 per request and 10^15 per position, a sum of
// millions of positions stays far below int64's 9.2 × 10^18. Amounts are
// exact decimals that cannot overflow, but bounding them keeps every
// product and sum in numbers a person can read and a client's double can
// carry. For scale: the largest Vietnamese listing has about 10^10 shares
// and the whole market trades well under 10^14 VND a day.
const (
	// MaxQuantity bounds one request's or order's quantity.
	MaxQuantity int64 = 1_000_000_000_000
	// MaxPosition bounds what one holding may reach.
	MaxPosition int64 = 1_000_000_000_000_000
)

var (
	// MaxAmount bounds one request's amount of cash (VND).
	MaxAmount = decimal.New(1, 15)
	// MaxCash bounds an account's cash balance (VND).
	MaxCash = decimal.New(1, 18)
	// MaxPrice bounds a price per share or contract (VND or points).
	MaxPrice = decimal.New(1, 12)
)
