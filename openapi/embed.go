// Package openapi holds the contract sources: the vendored upstream file and
// the project's overlay. The overlay is embedded so `omsd contract check`
// applies exactly the overlay this binary was generated with.
package openapi

import _ "embed"

// Overlay is openapi/overlay.yaml (OpenAPI Overlay 1.1).
//
//go:embed overlay.yaml
var Overlay []byte
