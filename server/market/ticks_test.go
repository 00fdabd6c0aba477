package market

import (
	"strings"
	"testing"

	"github.com/shopspring/decimal"
)

func d(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func table(t *testing.T, name string) TickTable {
	t.Helper()
	tt, ok := BuiltinTickTable(name)
	if !ok {
		t.Fatalf("no built-in tick table %s", name)
	}
	return tt
}

func TestHOSETickTableBoundaries(t *testing.T) {
	tt := table(t, "HOSE")
	for _, c := range []struct {
		price, tick string
		on          bool
	}{
		{"10", "10", true},
		{"9990", "10", true},
		{"9995", "10", false},
		{"9999.99", "10", false},
		{"10000", "50", true},
		{"10010", "50", false},
		{"10050", "50", true},
		{"49950", "50", true},
		{"49990", "50", false},
		{"49999", "50", false},
		{"50000", "100", true},
		{"50050", "100", false},
		{"50100", "100", true},
		{"100000", "100", true},
		{"100050", "100", false},
		{"107000", "100", true},
	} {
		if got := tt.TickAt(d(c.price)); !got.Equal(d(c.tick)) {
			t.Errorf("TickAt(%s) = %s, want %s", c.price, got, c.tick)
		}
		if got := tt.OnTick(d(c.price)); got != c.on {
			t.Errorf("OnTick(%s) = %v, want %v", c.price, got, c.on)
		}
	}
}

func TestFlatTickTables(t *testing.T) {
	for _, c := range []struct {
		table, price string
		on           bool
	}{
		{"HNX", "13000", true}, {"HNX", "13050", false}, {"HNX", "9900", true}, {"HNX", "9950", false},
		{"UPCOM", "103500", true}, {"UPCOM", "103550", false},
		{"HOSE_FUND", "25010", true}, {"HOSE_FUND", "25015", false},
		{"VN30F", "1350.1", true}, {"VN30F", "1350", true}, {"VN30F", "1350.15", false},
	} {
		if got := table(t, c.table).OnTick(d(c.price)); got != c.on {
			t.Errorf("%s OnTick(%s) = %v, want %v", c.table, c.price, got, c.on)
		}
	}
}

func TestRounding(t *testing.T) {
	tt := table(t, "HOSE")
	for _, c := range []struct{ in, down, up string }{
		{"9995", "9990", "10000"},
		{"9990", "9990", "9990"},
		{"10010", "10000", "10050"},
		{"49951", "49950", "50000"},
		{"49999.5", "49950", "50000"},
		{"50030", "50000", "50100"},
		{"50000", "50000", "50000"},
	} {
		if got := tt.RoundDown(d(c.in)); !got.Equal(d(c.down)) {
			t.Errorf("RoundDown(%s) = %s, want %s", c.in, got, c.down)
		}
		if got := tt.RoundUp(d(c.in)); !got.Equal(d(c.up)) {
			t.Errorf("RoundUp(%s) = %s, want %s", c.in, got, c.up)
		}
		if got := tt.RoundUp(d(c.in)); !tt.OnTick(got) {
			t.Errorf("RoundUp(%s) = %s is off the tick", c.in, got)
		}
	}
}

func TestBandLimits(t *testing.T) {
	for _, c := range []struct {
		name, table, ref, pct, ceiling, floor string
	}{
		{"FPT HOSE ±7%", "HOSE", "100000", "7", "107000", "93000"},
		{"VNM HOSE ±7% rounds 66340 down and 57660 up to 100", "HOSE", "62000", "7", "66300", "57700"},
		{"HPG HOSE ±7% on the 50 tick", "HOSE", "27050", "7", "28900", "25200"},
		{"HOSE band across the 10000 boundary", "HOSE", "10500", "7", "11200", "9770"},
		{"HOSE band across the 10000 boundary from below", "HOSE", "9500", "7", "10150", "8840"},
		{"HOSE band across the 50000 boundary", "HOSE", "52000", "7", "55600", "48400"},
		{"HOSE floor rounds up onto the next step", "HOSE", "53710", "7", "57400", "50000"},
		{"HNX ±10%", "HNX", "13000", "10", "14300", "11700"},
		{"HNX ±10% inward", "HNX", "13500", "10", "14800", "12200"},
		{"UPCoM ±15%", "UPCOM", "90000", "15", "103500", "76500"},
		{"UPCoM ±15% inward", "UPCOM", "12300", "15", "14100", "10500"},
		{"VN30F ±7%", "VN30F", "1350", "7", "1444.5", "1255.5"},
		{"VN30F ±7% inward", "VN30F", "1342.3", "7", "1436.2", "1248.4"},
		// KRX rule: a limit that rounds back onto the reference moves one
		// tick away from it (old behaviour: 500..500, no price but the
		// reference could trade).
		{"HNX reference 500 ±10% moves both limits off the reference", "HNX", "500", "10", "600", "400"},
		{"HNX reference 800 ±10%", "HNX", "800", "10", "900", "700"},
		{"UPCoM reference of one tick: the floor cannot go below it", "UPCOM", "100", "15", "200", "100"},
		{"HOSE reference 100 ±7% on the 10 tick", "HOSE", "100", "7", "110", "90"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ceil, floor := BandLimits(d(c.ref), d(c.pct), table(t, c.table))
			if !ceil.Equal(d(c.ceiling)) || !floor.Equal(d(c.floor)) {
				t.Errorf("BandLimits(%s, %s%%) = %s..%s, want %s..%s", c.ref, c.pct, floor, ceil, c.floor, c.ceiling)
			}
		})
	}
}

func TestTickTableValidate(t *testing.T) {
	for _, c := range []struct {
		name string
		tt   TickTable
		want string
	}{
		{"empty", nil, "empty"},
		{"zero tick", TickTable{{d("0"), d("0")}}, "tick must be > 0"},
		{"first from not 0", TickTable{{d("5"), d("10")}}, "from must be 0"},
		{"not increasing", TickTable{{d("0"), d("10")}, {d("0"), d("50")}}, "above the previous"},
		{"step start off the previous grid", TickTable{{d("0"), d("30")}, {d("10000"), d("50")}}, "multiple"},
		{"step start off its own grid", TickTable{{d("0"), d("10")}, {d("10010"), d("50")}}, "multiple"},
	} {
		err := c.tt.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Validate() = %v, want an error containing %q", c.name, err, c.want)
		}
	}
	for name, tt := range builtinTickTables {
		if err := tt.Validate(); err != nil {
			t.Errorf("built-in %s: %v", name, err)
		}
	}
}
