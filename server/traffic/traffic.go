// Package traffic reads and writes recorded HTTP traffic: HAR 1.2 files (what
// browsers, mitmproxy, Charles and most API tools export) and a JSON-lines
// form, one {method, path, headers, body, status, response_body} per line.
// Recorder writes a HAR of every exchange that goes through an
// http.RoundTripper.
package traffic

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Entry is one recorded exchange. Status 0 means no response was recorded.
type Entry struct {
	Method         string
	Target         string // absolute URL or path?query
	Header         http.Header
	Body           []byte
	Status         int
	ResponseHeader http.Header
	ResponseBody   []byte
}

// HAR 1.2, the fields this package reads and writes.
type HAR struct {
	Log HARLog `json:"log"`
}

type HARLog struct {
	Version string     `json:"version"`
	Creator HARCreator `json:"creator"`
	Entries []HAREntry `json:"entries"`
}

type HARCreator struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

type HAREntry struct {
	StartedDateTime string      `json:"startedDateTime"`
	Time            float64     `json:"time"`
	Request         HARRequest  `json:"request"`
	Response        HARResponse `json:"response"`
	Cache           struct{}    `json:"cache"`
	Timings         HARTimings  `json:"timings"`
}

type HARRequest struct {
	Method      string       `json:"method"`
	URL         string       `json:"url"`
	HTTPVersion string       `json:"httpVersion"`
	Headers     []HARNV      `json:"headers"`
	QueryString []HARNV      `json:"queryString"`
	Cookies     []HARNV      `json:"cookies"`
	PostData    *HARPostData `json:"postData,omitempty"`
	HeadersSize int          `json:"headersSize"`
	BodySize    int          `json:"bodySize"`
}

type HARResponse struct {
	Status      int        `json:"status"`
	StatusText  string     `json:"statusText"`
	HTTPVersion string     `json:"httpVersion"`
	Headers     []HARNV    `json:"headers"`
	Cookies     []HARNV    `json:"cookies"`
	Content     HARContent `json:"content"`
	RedirectURL string     `json:"redirectURL"`
	HeadersSize int        `json:"headersSize"`
	BodySize    int        `json:"bodySize"`
}

type HARNV struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type HARPostData struct {
	MimeType string `json:"mimeType"`
	Text     string `json:"text"`
}

type HARContent struct {
	Size     int    `json:"size"`
	MimeType string `json:"mimeType"`
	Text     string `json:"text,omitempty"`
	Encoding string `json:"encoding,omitempty"`
}

type HARTimings struct {
	Send    float64 `json:"send"`
	Wait    float64 `json:"wait"`
	Receive float64 `json:"receive"`
}

// ErrFormat is returned for input that is neither a HAR nor JSON lines.
var ErrFormat = errors.New("not a HAR file nor JSON lines")

// Read parses a HAR file or JSON lines (detected from the content).
func Read(r io.Reader) ([]Entry, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	var probe struct {
		Log *json.RawMessage `json:"log"`
	}
	if json.Unmarshal(data, &probe) == nil && probe.Log != nil {
		var h HAR
		if err := json.Unmarshal(data, &h); err != nil {
			return nil, fmt.Errorf("%w: HAR: %w", ErrFormat, err)
		}
		return fromHAR(h)
	}
	return readLines(data)
}

func fromHAR(h HAR) ([]Entry, error) {
	out := make([]Entry, 0, len(h.Log.Entries))
	for i, e := range h.Log.Entries {
		if e.Request.Method == "" || e.Request.URL == "" {
			return nil, fmt.Errorf("%w: HAR entry %d has no request method or url", ErrFormat, i+1)
		}
		x := Entry{Method: e.Request.Method, Target: e.Request.URL, Header: headers(e.Request.Headers)}
		if pd := e.Request.PostData; pd != nil {
			x.Body = []byte(pd.Text)
			if pd.MimeType != "" && x.Header.Get("Content-Type") == "" {
				x.Header.Set("Content-Type", pd.MimeType)
			}
		}
		// Status 0 is how browsers record a request that got no answer.
		if e.Response.Status > 0 {
			x.Status = e.Response.Status
			x.ResponseHeader = headers(e.Response.Headers)
			c := e.Response.Content
			body := []byte(c.Text)
			if strings.EqualFold(c.Encoding, "base64") {
				b, err := base64.StdEncoding.DecodeString(c.Text)
				if err != nil {
					return nil, fmt.Errorf("%w: HAR entry %d: response content is not valid base64", ErrFormat, i+1)
				}
				body = b
			}
			x.ResponseBody = body
			if c.MimeType != "" && len(body) > 0 && x.ResponseHeader.Get("Content-Type") == "" {
				x.ResponseHeader.Set("Content-Type", c.MimeType)
			}
		}
		out = append(out, x)
	}
	return out, nil
}

func headers(nv []HARNV) http.Header {
	h := http.Header{}
	for _, p := range nv {
		// HTTP/2 pseudo-headers (":authority") are not headers.
		if strings.HasPrefix(p.Name, ":") {
			continue
		}
		h.Add(p.Name, p.Value)
	}
	return h
}

// line is the JSON-lines form. body and response_body are a JSON value
// (sent as JSON) or a string (sent as is). headers values are a string or a
// list of strings.
type line struct {
	Method          string                     `json:"method"`
	Path            string                     `json:"path"`
	Headers         map[string]json.RawMessage `json:"headers"`
	Body            json.RawMessage            `json:"body"`
	Status          int                        `json:"status"`
	ResponseHeaders map[string]json.RawMessage `json:"response_headers"`
	ResponseBody    json.RawMessage            `json:"response_body"`
}

func readLines(data []byte) ([]Entry, error) {
	var out []Entry
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	n := 0
	for sc.Scan() {
		n++
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		var l line
		dec := json.NewDecoder(bytes.NewReader(text))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&l); err != nil {
			return nil, fmt.Errorf("%w: line %d: %w", ErrFormat, n, err)
		}
		if l.Method == "" || l.Path == "" {
			return nil, fmt.Errorf("%w: line %d: method and path are required", ErrFormat, n)
		}
		x := Entry{Method: strings.ToUpper(l.Method), Target: l.Path, Status: l.Status}
		var err error
		if x.Header, err = lineHeaders(l.Headers); err != nil {
			return nil, fmt.Errorf("%w: line %d: headers: %w", ErrFormat, n, err)
		}
		x.Body = lineBody(l.Body)
		if len(x.Body) > 0 && x.Header.Get("Content-Type") == "" {
			x.Header.Set("Content-Type", "application/json")
		}
		if l.Status != 0 {
			if x.ResponseHeader, err = lineHeaders(l.ResponseHeaders); err != nil {
				return nil, fmt.Errorf("%w: line %d: response_headers: %w", ErrFormat, n, err)
			}
			x.ResponseBody = lineBody(l.ResponseBody)
			if len(x.ResponseBody) > 0 && x.ResponseHeader.Get("Content-Type") == "" {
				x.ResponseHeader.Set("Content-Type", "application/json")
			}
		}
		out = append(out, x)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, fmt.Errorf("%w: the file is empty", ErrFormat)
	}
	return out, nil
}

func lineHeaders(m map[string]json.RawMessage) (http.Header, error) {
	h := http.Header{}
	for k, raw := range m {
		var one string
		if json.Unmarshal(raw, &one) == nil {
			h.Add(k, one)
			continue
		}
		var many []string
		if err := json.Unmarshal(raw, &many); err != nil {
			return nil, fmt.Errorf("%q must be a string or a list of strings", k)
		}
		for _, v := range many {
			h.Add(k, v)
		}
	}
	return h, nil
}

// lineBody: absent or null is no body; a JSON string is the raw text; any
// other JSON value is sent as JSON.
func lineBody(raw json.RawMessage) []byte {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []byte(s)
	}
	return raw
}
