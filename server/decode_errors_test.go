package server

import (
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"testing"

	"github.com/labstack/echo/v4"
)

// The net under the gate: decode and binding errors of the generated code
// are worded for people, whatever the gate let through.
func TestDescribeDecodeError(t *testing.T) {
	ute := &json.UnmarshalTypeError{Value: "number 1e3", Type: reflect.TypeFor[int32](), Field: "legs.0.qty"}
	for _, tc := range []struct {
		err  *echo.HTTPError
		want string
	}{
		{echo.NewHTTPError(http.StatusBadRequest, "Unmarshal type error").SetInternal(ute),
			`request body: field "legs.0.qty" must be a whole number written without a fraction or an exponent, from -2147483648 to 2147483647`},
		{echo.NewHTTPError(http.StatusBadRequest, "Unmarshal type error").SetInternal(&json.UnmarshalTypeError{Type: reflect.TypeFor[string]()}),
			`request body: a value must be a string`},
		{echo.NewHTTPError(http.StatusBadRequest, "Syntax error").SetInternal(&json.SyntaxError{}), "request body is not valid JSON"},
		{echo.NewHTTPError(http.StatusBadRequest, "Invalid format for parameter bucket_ns: strconv.ParseInt: out of range"),
			`parameter "bucket_ns" has an invalid value`},
		{echo.NewHTTPError(http.StatusBadRequest, "Expected one value for X-Session-Token, got 2"),
			`parameter "X-Session-Token" must be sent once`},
		{echo.NewHTTPError(http.StatusBadRequest, errors.New("boom")), "the request does not match the API contract"},
	} {
		if got := describeDecodeError(tc.err); got != tc.want {
			t.Errorf("%v: got %q, want %q", tc.err, got, tc.want)
		}
	}
	if got := expectedKind(reflect.TypeFor[uint8]()); got != "must be a whole number written without a fraction or an exponent, from 0 to 255" {
		t.Errorf("uint8: %q", got)
	}
}
