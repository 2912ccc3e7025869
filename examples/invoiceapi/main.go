// Command invoiceapi is an example counterparty: an invoice API that AI
// agents call with an agentcert presentation in the Agent-Credential header.
// Agents whose certification discloses invoices:read may read invoices;
// paying one needs payments:initiate, which agentcert certifications
// typically prohibit.
//
//	go run ./examples/invoiceapi -trust did:web:127.0.0.1%3A8080 -allow-host 127.0.0.1
//
// An agent first GETs /nonce, then presents its credential with a KB-JWT
// whose aud is this service's audience and whose nonce is that nonce.
//
// Agents may also sign each request with HTTP Message Signatures (RFC 9421)
// under their certified key (agentcert's agentclient, or `agentcert
// request`): the presentation is then sent once, and later requests carry
// only a signature that the API checks against the session it opened. A
// signature covers the host it was made for (@authority): the API accepts
// those made for its listen address and for its audience's host (-authority
// names others).
//
// With -action-log FILE the API signs a receipt of every decision, allowed
// or refused, with a did:key it makes at start (printed), sends it back in
// the Agent-Credential-Receipt header, and appends it to FILE (JSON lines):
// the counterparty's own evidence of what each agent asked and was told,
// which `agentcert receipts search FILE` queries and `agentcert receipt
// verify` checks.
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"flag"
	"log"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/receipt"
	"github.com/agentcert/agentcert/verifier"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

const vct = "urn:agentcert:agent-certification:v1"

// newAPI returns the invoice API behind the agentcert middleware; ch, when
// set, accepts signed requests; sink, when set, records the receipt of
// every decision (the verifier must sign them: verifier.WithReceipts).
func newAPI(v *verifier.Verifier, ch *verifier.Channel, nonces *verifier.Nonces, audience string, sink receipt.Sink) (http.Handler, error) {
	guard, err := verifier.Middleware(v, verifier.MiddlewareOptions{
		Audience: audience,
		Nonces:   nonces,
		Action:   actionOf,
		Channel:  ch,
		Sink:     sink,
	})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /nonce", nonces.Handler())
	mux.Handle("GET /invoices", guard(http.HandlerFunc(listInvoices)))
	mux.Handle("GET /invoices/{id}", guard(http.HandlerFunc(getInvoice)))
	mux.Handle("POST /invoices/{id}/pay", guard(http.HandlerFunc(payInvoice)))
	return mux, nil
}

// actionOf maps each route to the action an agent needs for it.
func actionOf(r *http.Request) (string, map[string]any) {
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/invoices":
		return "invoices:list", nil
	case r.Method == http.MethodGet:
		return "invoices:read", map[string]any{"resource": strings.TrimPrefix(r.URL.Path, "/")}
	case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/pay"):
		return "payments:initiate", map[string]any{"amount": 120, "currency": "EUR"}
	}
	return "unknown:unknown", nil
}

type invoice struct {
	ID     string `json:"id"`
	Vendor string `json:"vendor"`
	Amount string `json:"amount"`
}

var invoices = []invoice{{"inv-1", "Paper Co", "120.00 EUR"}, {"inv-2", "Cloud Ltd", "99.50 EUR"}}

func agentOf(r *http.Request) map[string]any {
	res, _ := verifier.ResultFrom(r.Context())
	return map[string]any{"agent": res.Subject, "principal": res.Claims["principal"]}
}

func listInvoices(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, map[string]any{"invoices": invoices, "served_to": agentOf(r)})
}

func getInvoice(w http.ResponseWriter, r *http.Request) {
	for _, inv := range invoices {
		if inv.ID == r.PathValue("id") {
			writeJSON(w, map[string]any{"invoice": inv, "served_to": agentOf(r)})
			return
		}
	}
	http.Error(w, "no such invoice", http.StatusNotFound)
}

func payInvoice(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, map[string]any{"paid": r.PathValue("id")})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// authorities are the @authority values signed requests may name: those
// of list (comma-separated) when given, else the listen address and the
// audience's host (with its port, if any).
func authorities(list, listen, audience string) []string {
	if list != "" {
		return strings.Split(list, ",")
	}
	out := []string{listen}
	if u, err := url.Parse(audience); err == nil && u.Host != "" {
		out = append(out, u.Host)
	}
	return out
}

// receiptSigner makes the key the API signs its receipts with, a P-256 key
// named by its did:key, so that anyone can check a receipt without asking
// the API.
func receiptSigner() (*receipt.Signer, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	k, err := jwk.FromRaw(priv)
	if err != nil {
		return nil, err
	}
	pub, err := k.PublicKey()
	if err != nil {
		return nil, err
	}
	id, err := did.KeyDID(pub)
	if err != nil {
		return nil, err
	}
	kid, err := receipt.KeyID(id, pub)
	if err != nil {
		return nil, err
	}
	if err := k.Set(jwk.KeyIDKey, kid); err != nil {
		return nil, err
	}
	return receipt.SignerFromJWK(id, k)
}

func main() {
	listen := flag.String("listen", "127.0.0.1:8090", "listen address")
	audience := flag.String("audience", "https://invoices.example", "this service's audience (KB-JWT aud)")
	trust := flag.String("trust", "did:web:127.0.0.1%3A8080", "trusted agentcert issuer DID")
	allow := flag.String("allow-host", "", "dev only: a host the fetcher may reach over plain http on a private address")
	authority := flag.String("authority", "", "the host[:port] values signed requests may be made for, comma-separated (default: the listen address and the audience's host)")
	actionLog := flag.String("action-log", "", "sign a receipt of every decision and append it to this file (JSON lines)")
	flag.Parse()

	var hosts []string
	if *allow != "" {
		hosts = []string{*allow}
	}
	p := verifier.DefaultPolicy()
	p.Trusted[*trust] = []string{vct}
	nonces, err := verifier.NewNonces(nil, 5*time.Minute, nil)
	if err != nil {
		log.Fatal(err)
	}
	opts := []verifier.Option{verifier.WithFetcher(did.NewFetcher(did.FetcherConfig{AllowHosts: hosts}))}
	var sink receipt.Sink
	if *actionLog != "" {
		signer, err := receiptSigner()
		if err != nil {
			log.Fatal(err)
		}
		fs, err := receipt.OpenFileSink(*actionLog, 0, 0)
		if err != nil {
			log.Fatal(err)
		}
		defer fs.Close()
		opts, sink = append(opts, verifier.WithReceipts(signer)), fs
		log.Printf("receipts signed by %s, recorded in %s", signer.Issuer(), *actionLog)
	}
	v, err := verifier.New(p, opts...)
	if err != nil {
		log.Fatal(err)
	}
	ch, err := verifier.NewChannel(v, verifier.ChannelOptions{Authorities: authorities(*authority, *listen, *audience)})
	if err != nil {
		log.Fatal(err)
	}
	api, err := newAPI(v, ch, nonces, *audience, sink)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("invoice API on http://%s (audience %s, trusting %s)", *listen, *audience, *trust)
	srv := &http.Server{Addr: *listen, Handler: api, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}
