package traffic

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"sort"
	"sync"
	"time"
)

// Recorder is an http.RoundTripper that keeps every exchange passing through
// it, to be written as a HAR 1.2 file.
type Recorder struct {
	Base    http.RoundTripper // nil: http.DefaultTransport
	mu      sync.Mutex
	entries []HAREntry
}

// RoundTrip implements http.RoundTripper; bodies are read and restored.
func (r *Recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	base := r.Base
	if base == nil {
		base = http.DefaultTransport
	}
	var reqBody []byte
	if req.Body != nil && req.Body != http.NoBody {
		b, err := io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return nil, err
		}
		reqBody = b
		req.Body = io.NopCloser(bytes.NewReader(b))
	}
	start := time.Now()
	res, err := base.RoundTrip(req)
	if err != nil {
		return res, err
	}
	resBody, err := io.ReadAll(res.Body)
	_ = res.Body.Close()
	res.Body = io.NopCloser(bytes.NewReader(resBody))
	if err != nil {
		return res, err
	}
	e := HAREntry{
		StartedDateTime: start.UTC().Format(time.RFC3339Nano),
		Time:            float64(time.Since(start).Microseconds()) / 1000,
		Request: HARRequest{
			Method: req.Method, URL: req.URL.String(), HTTPVersion: "HTTP/1.1",
			Headers: nv(req.Header), QueryString: []HARNV{}, Cookies: []HARNV{},
			HeadersSize: -1, BodySize: len(reqBody),
		},
		Response: HARResponse{
			Status: res.StatusCode, StatusText: http.StatusText(res.StatusCode), HTTPVersion: res.Proto,
			Headers: nv(res.Header), Cookies: []HARNV{},
			Content:     HARContent{Size: len(resBody), MimeType: res.Header.Get("Content-Type"), Text: string(resBody)},
			HeadersSize: -1, BodySize: len(resBody),
		},
	}
	for k, vs := range req.URL.Query() {
		for _, v := range vs {
			e.Request.QueryString = append(e.Request.QueryString, HARNV{Name: k, Value: v})
		}
	}
	if reqBody != nil {
		e.Request.PostData = &HARPostData{MimeType: req.Header.Get("Content-Type"), Text: string(reqBody)}
	}
	r.mu.Lock()
	r.entries = append(r.entries, e)
	r.mu.Unlock()
	return res, nil
}

func nv(h http.Header) []HARNV {
	out := []HARNV{}
	for k, vs := range h {
		for _, v := range vs {
			out = append(out, HARNV{Name: k, Value: v})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Len is the number of exchanges recorded so far.
func (r *Recorder) Len() int { r.mu.Lock(); defer r.mu.Unlock(); return len(r.entries) }

// HAR returns what was recorded.
func (r *Recorder) HAR() HAR {
	r.mu.Lock()
	defer r.mu.Unlock()
	return HAR{Log: HARLog{Version: "1.2", Creator: HARCreator{Name: "omsd traffic.Recorder", Version: "1"},
		Entries: append([]HAREntry(nil), r.entries...)}}
}

// WriteFile writes the HAR, indented, to path.
func (r *Recorder) WriteFile(path string) error {
	b, err := json.MarshalIndent(r.HAR(), "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
