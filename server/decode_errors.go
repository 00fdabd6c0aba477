package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/labstack/echo/v4"
	"github.com/vero-oms/omsd/server/apperr"
)

// readableDecodeErrors sits between the contract gate and the generated
// handlers. A request that passed validation can still fail to decode into
// the generated Go types: JSON Schema's "integer" admits 1e3, 1000.0 and
// 9223372036854775808, which Go's int64 does not. The generated code then
// returns echo's 400 ("Unmarshal type error: expected=int64, …"), which the
// error handler would send as a bare "Bad Request". This turns such errors
// into an invalid_request whose message says which field and what it must
// be, in the route's envelope like every other 400.
func readableDecodeErrors(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		err := next(c)
		var he *echo.HTTPError
		if err == nil || !errors.As(err, &he) || he.Code != http.StatusBadRequest {
			return err
		}
		return &apiError{status: http.StatusBadRequest, code: apperr.InvalidRequest, message: describeDecodeError(he)}
	}
}

// describeDecodeError words a decode or parameter-binding error of the
// generated code for people, without Go types or offsets.
func describeDecodeError(he *echo.HTTPError) string {
	var ute *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(he.Internal, &ute):
		where := "request body"
		if ute.Field != "" {
			where = fmt.Sprintf("request body: field %q", ute.Field)
		} else {
			where += ": a value"
		}
		return where + " " + expectedKind(ute.Type)
	case errors.As(he.Internal, &se):
		return "request body is not valid JSON"
	}
	if msg, ok := he.Message.(string); ok {
		// oapi-codegen's wrapper: "Invalid format for parameter NAME: …".
		if rest, ok := strings.CutPrefix(msg, "Invalid format for parameter "); ok {
			name, _, _ := strings.Cut(rest, ":")
			return fmt.Sprintf("parameter %q has an invalid value", name)
		}
		if strings.HasPrefix(msg, "Expected one value for ") {
			name := strings.TrimSuffix(strings.SplitN(strings.TrimPrefix(msg, "Expected one value for "), ",", 2)[0], " ")
			return fmt.Sprintf("parameter %q must be sent once", name)
		}
	}
	return "the request does not match the API contract"
}

// expectedKind says what a Go type accepts, in the words of the contract.
func expectedKind(t reflect.Type) string {
	if t == nil {
		return "has a value of the wrong type"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	const whole = "must be a whole number written without a fraction or an exponent"
	switch t.Kind() {
	case reflect.Int, reflect.Int64:
		return fmt.Sprintf("%s, from %d to %d", whole, int64(math.MinInt64), int64(math.MaxInt64))
	case reflect.Int32:
		return fmt.Sprintf("%s, from %d to %d", whole, math.MinInt32, math.MaxInt32)
	case reflect.Int16:
		return fmt.Sprintf("%s, from %d to %d", whole, math.MinInt16, math.MaxInt16)
	case reflect.Int8:
		return fmt.Sprintf("%s, from %d to %d", whole, math.MinInt8, math.MaxInt8)
	case reflect.Uint, reflect.Uint64, reflect.Uint32, reflect.Uint16, reflect.Uint8:
		return fmt.Sprintf("%s, from 0 to %d", whole, uint64(math.MaxUint64)>>(64-t.Bits()))
	case reflect.Float32, reflect.Float64:
		return "must be a number within the range of a 64-bit floating-point value"
	case reflect.String:
		return "must be a string"
	case reflect.Bool:
		return "must be true or false"
	case reflect.Slice, reflect.Array:
		return "must be an array"
	case reflect.Struct, reflect.Map:
		return "must be an object"
	}
	return "has a value of the wrong type"
}

// integerProblem finds, in a JSON body that passed validation, the first
// value of an integer field that the generated Go type cannot hold: JSON
// Schema's integer admits 1e3, 1000.0 and 2^63, Go's int64 (int32 for
// `format: int32`) does not. The gate refuses it up front, so the server
// and `omsd validate` judge such a body alike; readableDecodeErrors stays
// as the net for anything this walk does not reach (anyOf, oneOf).
func integerProblem(op *operation, contentType string, body []byte) string {
	rb := op.route.Operation.RequestBody
	if len(body) == 0 || rb == nil || rb.Value == nil || !isJSON(contentType) {
		return ""
	}
	mt := rb.Value.Content.Get("application/json")
	if mt == nil || mt.Schema == nil {
		return ""
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return ""
	}
	return walkIntegers(mt.Schema.Value, v, nil, 0)
}

func walkIntegers(s *openapi3.Schema, v any, path []string, depth int) string {
	if s == nil || depth > 64 {
		return ""
	}
	for _, sub := range s.AllOf {
		if msg := walkIntegers(sub.Value, v, path, depth+1); msg != "" {
			return msg
		}
	}
	switch val := v.(type) {
	case json.Number:
		if !s.Type.Is("integer") {
			return ""
		}
		bits, typ := 64, reflect.TypeFor[int64]()
		if s.Format == "int32" {
			bits, typ = 32, reflect.TypeFor[int32]()
		}
		if _, err := strconv.ParseInt(val.String(), 10, bits); err != nil {
			if len(path) == 0 {
				return "request body: a value " + expectedKind(typ)
			}
			return fmt.Sprintf("request body: field %q %s", strings.Join(path, "."), expectedKind(typ))
		}
	case map[string]any:
		names := make([]string, 0, len(val))
		for name := range val {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			var ps *openapi3.Schema
			if p := s.Properties[name]; p != nil {
				ps = p.Value
			} else if ap := s.AdditionalProperties.Schema; ap != nil {
				ps = ap.Value
			}
			if msg := walkIntegers(ps, val[name], append(path[:len(path):len(path)], name), depth+1); msg != "" {
				return msg
			}
		}
	case []any:
		if s.Items == nil {
			return ""
		}
		for i, item := range val {
			if msg := walkIntegers(s.Items.Value, item, append(path[:len(path):len(path)], strconv.Itoa(i)), depth+1); msg != "" {
				return msg
			}
		}
	}
	return ""
}
