package stream

import (
	"os"
	"testing"

	"github.com/vero-oms/omsd/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }
