package httpsig

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Message is what a signature base is built from: the parts of one HTTP
// request or response. Build one with Incoming (a request a server
// received), Outgoing (a request a client is about to send) or by hand.
type Message struct {
	Method    string      // request method; empty for a response
	Scheme    string      // "http" or "https"
	Authority string      // host[:port] as in the Host header
	Path      string      // escaped absolute path; "" means "/"
	RawQuery  string      // query without "?"; HasQuery says whether "?" was sent
	HasQuery  bool        // the target had a "?" (possibly with an empty query)
	Status    int         // response status; 0 for a request
	Header    http.Header // the message's fields
	// Request is the request a response answers, for components with the
	// req parameter.
	Request *Message
}

// Incoming returns the message of a request received by a server. Scheme
// is https when the connection was TLS.
func Incoming(r *http.Request) *Message {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return fromURL(r.Method, scheme, r.Host, r.URL, r.Header)
}

// Outgoing returns the message of a request a client is about to send:
// the authority is req.Host when set, else the URL's host.
func Outgoing(r *http.Request) *Message {
	host := r.Host
	if host == "" {
		host = r.URL.Host
	}
	return fromURL(r.Method, r.URL.Scheme, host, r.URL, r.Header)
}

func fromURL(method, scheme, host string, u *url.URL, h http.Header) *Message {
	m := &Message{Method: method, Scheme: strings.ToLower(scheme), Authority: host, Header: h}
	if u != nil {
		m.Path = u.EscapedPath()
		m.RawQuery = u.RawQuery
		m.HasQuery = u.RawQuery != "" || u.ForceQuery
	}
	return m
}

// AuthorityValue returns the value the signature base holds for
// @authority (RFC 9421 Section 2.2.3): Authority lowercased, without the
// scheme's default port.
func (m *Message) AuthorityValue() string { return m.authority() }

// authority is the @authority value: lowercase host, default port removed.
func (m *Message) authority() string {
	a := strings.ToLower(m.Authority)
	switch {
	case m.Scheme == "https" && strings.HasSuffix(a, ":443"):
		a = strings.TrimSuffix(a, ":443")
	case m.Scheme == "http" && strings.HasSuffix(a, ":80"):
		a = strings.TrimSuffix(a, ":80")
	}
	return a
}

func (m *Message) path() string {
	if m.Path == "" {
		return "/"
	}
	return m.Path
}

func (m *Message) query() string {
	return "?" + m.RawQuery
}

func (m *Message) targetURI() string {
	s := m.Scheme + "://" + m.authority() + m.path()
	if m.HasQuery {
		s += "?" + m.RawQuery
	}
	return s
}

func (m *Message) requestTarget() string {
	if m.HasQuery {
		return m.path() + "?" + m.RawQuery
	}
	return m.path()
}

func (m *Message) status() string {
	return strconv.Itoa(m.Status)
}
