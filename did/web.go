package did

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/jsonstrict"
)

// WebURL returns the URL of the DID document of a did:web (did:web method
// §3.2): the method-specific id's ':' become '/', a port is written "%3A"
// after the host (an IPv6 host is accepted percent-encoded in brackets,
// "%5B%3A%3A1%5D"), a DID without path gives /.well-known/did.json and one
// with a path gives /<path>/did.json. The scheme is https, or http when
// httpForAllowed(host) is true for the host (with ":port" when there is one);
// httpForAllowed may be nil.
//
// Anything that is not a did:web with a valid host, port and path is
// did_invalid.
func WebURL(did string, httpForAllowed func(host string) bool) (string, error) {
	d, err := Parse(did)
	if err != nil {
		return "", err
	}
	if d.Method != "web" {
		return "", errcode.New(errcode.DIDInvalid, "not a did:web")
	}
	segs := strings.Split(d.ID, ":")
	host, err := webHost(segs[0])
	if err != nil {
		return "", err
	}
	path := "/.well-known"
	if len(segs) > 1 {
		for _, s := range segs[1:] {
			dec, err := url.PathUnescape(s)
			if err != nil || s == "" || dec == "." || dec == ".." || strings.ContainsAny(dec, "/\\?#") {
				return "", errcode.New(errcode.DIDInvalid, "bad did:web path segment %q", s)
			}
		}
		path = "/" + strings.Join(segs[1:], "/")
	}
	scheme := "https"
	if httpForAllowed != nil && httpForAllowed(host) {
		scheme = "http"
	}
	return scheme + "://" + host + path + "/did.json", nil
}

// webHost checks the host segment of a did:web: a DNS name, an IPv4
// address or a bracketed IPv6 address, optionally followed by ":" and a
// port, with the colons (and brackets) percent-encoded ("example.com%3A3000",
// "%5B%3A%3A1%5D%3A8443"). It returns "host" or "host:port", lowercased.
func webHost(seg string) (string, error) {
	dec, err := url.PathUnescape(seg)
	if err != nil {
		return "", errcode.New(errcode.DIDInvalid, "bad did:web host %q", seg)
	}
	dec = strings.ToLower(dec)
	host, port := dec, ""
	if strings.HasPrefix(dec, "[") {
		end := strings.IndexByte(dec, ']')
		if end < 0 {
			return "", errcode.New(errcode.DIDInvalid, "bad did:web host %q", seg)
		}
		ip, err := netip.ParseAddr(dec[1:end])
		if err != nil || !ip.Is6() || ip.Zone() != "" {
			return "", errcode.New(errcode.DIDInvalid, "bad did:web IPv6 host %q", seg)
		}
		host, port = dec[:end+1], dec[end+1:]
		if port != "" {
			if port[0] != ':' {
				return "", errcode.New(errcode.DIDInvalid, "bad did:web host %q", seg)
			}
			port = port[1:]
			if err := checkPort(port); err != nil {
				return "", err
			}
		}
	} else {
		if i := strings.IndexByte(dec, ':'); i >= 0 {
			host, port = dec[:i], dec[i+1:]
			if err := checkPort(port); err != nil {
				return "", err
			}
		}
		if err := checkDNSName(host); err != nil {
			return "", err
		}
	}
	if port != "" {
		return host + ":" + port, nil
	}
	return host, nil
}

func checkPort(port string) error {
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 || port[0] < '1' || port[0] > '9' {
		return errcode.New(errcode.DIDInvalid, "bad did:web port %q", port)
	}
	return nil
}

// checkDNSName accepts a DNS host name (letters, digits, inner '-', labels
// of 1 to 63 bytes) or a dotted IPv4 address.
func checkDNSName(host string) error {
	if len(host) == 0 || len(host) > 253 {
		return errcode.New(errcode.DIDInvalid, "bad did:web host")
	}
	for _, label := range strings.Split(host, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return errcode.New(errcode.DIDInvalid, "bad did:web host %q", host)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return errcode.New(errcode.DIDInvalid, "bad did:web host %q", host)
			}
		}
	}
	return nil
}

// NewResolver returns the resolver used in production: did:key and did:jwk
// are resolved offline (DocumentFor); did:web is fetched with f (nil means a
// default Fetcher), over http only for hosts f allows, with a 256 KiB cap.
// The fetched document's id must equal the DID.
//
// Errors: did_invalid for a bad DID; did_method_unsupported for other
// methods; fetch_refused when the guard refuses the destination; and
// did_resolution_failed for any other failure to fetch (wrapping the
// fetch_failed error) or an invalid document.
func NewResolver(f *Fetcher) Resolver {
	if f == nil {
		f = NewFetcher(FetcherConfig{})
	}
	return &resolver{f: f}
}

type resolver struct{ f *Fetcher }

func (r *resolver) Resolve(ctx context.Context, did string) (*Document, error) {
	d, err := Parse(did)
	if err != nil {
		return nil, err
	}
	switch d.Method {
	case "key", "jwk":
		return DocumentFor(did)
	case "web":
		return r.resolveWeb(ctx, did)
	}
	return nil, errcode.New(errcode.DIDMethodUnsupported, "DID method %q is not supported", d.Method)
}

func (r *resolver) resolveWeb(ctx context.Context, did string) (*Document, error) {
	u, err := WebURL(did, r.f.Allowed)
	if err != nil {
		return nil, err
	}
	resp, err := r.f.Get(ctx, u, "application/did+json, application/json", DefaultMaxDocumentBytes)
	if err != nil {
		if errcode.CodeOf(err) == errcode.FetchRefused {
			return nil, err
		}
		return nil, errcode.Wrap(errcode.DIDResolutionFailed, err, "could not fetch the DID document of %s", did)
	}
	doc, err := decodeDocument(resp.Body)
	if err != nil {
		return nil, errcode.Wrap(errcode.DIDResolutionFailed, err, "the DID document of %s is not valid", did)
	}
	if doc.ID != did {
		return nil, errcode.New(errcode.DIDResolutionFailed, "the DID document's id is not %s", did)
	}
	return doc, nil
}

// decodeDocument decodes exactly one JSON object as a Document.
func decodeDocument(b []byte) (*Document, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return nil, errors.New("not a JSON object")
	}
	// As all fetched JSON: a member given twice, or in two cases ("id" and
	// "ID"), would read as the last one here and maybe the first elsewhere.
	if err := jsonstrict.Check(b); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	var doc Document
	if err := dec.Decode(&doc); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data after the document")
	}
	return &doc, nil
}
