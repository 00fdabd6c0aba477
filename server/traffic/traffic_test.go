package traffic

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

func TestHARDetails(t *testing.T) {
	har := `{"log":{"version":"1.2","entries":[
	 {"request":{"method":"POST","url":"https://oms.example/api/auth/login?x=1","headers":[{"name":":authority","value":"oms.example"},{"name":"X-A","value":"1"}],
	  "postData":{"mimeType":"application/json","text":"{}"}},
	  "response":{"status":200,"headers":[],"content":{"mimeType":"application/json","text":"eyJvayI6dHJ1ZX0=","encoding":"base64"}}},
	 {"request":{"method":"GET","url":"https://oms.example/x","headers":[]},"response":{"status":0,"headers":[],"content":{}}}]}}`
	es, err := Read(strings.NewReader(har))
	if err != nil || len(es) != 2 {
		t.Fatalf("%v %d", err, len(es))
	}
	a := es[0]
	if a.Header.Get(":authority") != "" || a.Header.Get("X-A") != "1" || a.Header.Get("Content-Type") != "application/json" ||
		string(a.Body) != "{}" || a.Status != 200 || string(a.ResponseBody) != `{"ok":true}` || a.ResponseHeader.Get("Content-Type") != "application/json" {
		t.Fatalf("entry 1: %+v", a)
	}
	if es[1].Status != 0 || es[1].ResponseBody != nil {
		t.Fatalf("entry 2 (no response): %+v", es[1])
	}
}

// A recording reads back as what was sent and received.
func TestRecorderRoundTrip(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(201)
		_, _ = w.Write([]byte(`{"got":` + string(b) + `}`))
	}))
	defer srv.Close()
	rec := &Recorder{}
	c := &http.Client{Transport: rec}
	res, err := c.Post(srv.URL+"/a?b=c", "application/json", strings.NewReader(`[1]`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	if string(body) != `{"got":[1]}` {
		t.Fatalf("the caller lost the body: %q", body)
	}
	path := t.TempDir() + "/r.har"
	if err := rec.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	es, err := Read(f)
	if err != nil || len(es) != 1 {
		t.Fatalf("%v %d", err, len(es))
	}
	e := es[0]
	if e.Method != "POST" || e.Target != srv.URL+"/a?b=c" || string(e.Body) != "[1]" || e.Status != 201 || string(e.ResponseBody) != `{"got":[1]}` {
		t.Fatalf("%+v", e)
	}
}
