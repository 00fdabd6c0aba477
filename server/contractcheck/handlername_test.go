package contractcheck

import (
	"reflect"
	"testing"

	"github.com/vero-oms/omsd/gen"
)

// handlerName must name exactly the methods oapi-codegen generated.
func TestHandlerNamesMatchTheGeneratedInterface(t *testing.T) {
	spec, err := gen.GetSpec()
	if err != nil {
		t.Fatal(err)
	}
	iface := reflect.TypeOf((*gen.StrictServerInterface)(nil)).Elem()
	n := 0
	for _, item := range spec.Paths.Map() {
		for _, op := range item.Operations() {
			n++
			if _, ok := iface.MethodByName(handlerName(op.OperationID)); !ok {
				t.Errorf("operation %s: no generated method %s", op.OperationID, handlerName(op.OperationID))
			}
		}
	}
	if n != iface.NumMethod() {
		t.Errorf("%d operations, %d generated methods", n, iface.NumMethod())
	}
}
