package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"reflect"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/vero-oms/omsd/server/auth"
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
		return &apiError{status: http.StatusBadRequest, code: auth.CodeInvalidRequest, message: describeDecodeError(he)}
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
