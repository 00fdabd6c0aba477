package backoffice

import (
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/shopspring/decimal"
)

// decodedDec gives exactly what decoding a decimal's JSON text gives
// (reflect.DeepEqual, as checkFed and the memo checks compare), on its
// fast path and off it.
func TestDecodedDec(t *testing.T) {
	ds := []decimal.Decimal{{}, decimal.Zero, decimal.New(0, -3), decimal.New(0, 4), decimal.RequireFromString("100.5").Add(decimal.RequireFromString("0.5")),
		decimal.New(1010, -1), decimal.New(-1010, -1), decimal.New(-5, -30), decimal.New(7, 3), decimal.New(-7, 17), decimal.New(7, 18),
		decimal.New(999999999999999999, 0), decimal.New(999999999999999999, -2), decimal.New(1000000000000000000, -2), decimal.New(-9223372036854775808, -3),
		decimal.RequireFromString("123456789012345678901234567890.1200"), decimal.New(3, 0).Sub(decimal.New(3, 0))}
	for range 20000 {
		c := rand.Int64N(1<<62) >> rand.IntN(62)
		if rand.IntN(2) == 0 {
			c = -c
		}
		for range rand.IntN(4) {
			c -= c % 10 // trailing zeros
		}
		ds = append(ds, decimal.New(c, int32(rand.IntN(30)-22)))
	}
	for _, d := range ds {
		for _, omitzero := range []bool{false, true} {
			want := decimal.Decimal{}
			if !omitzero || !d.IsZero() {
				want = decimal.RequireFromString(d.String())
			}
			if got := decodedDec(d, omitzero); !reflect.DeepEqual(got, want) {
				t.Fatalf("decodedDec(%s (%d, %d), %v) = %#v, want %#v", d, d.CoefficientInt64(), d.Exponent(), omitzero, got, want)
			}
		}
	}
}
