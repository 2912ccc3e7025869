package receipt_test

import (
	"context"
	"strings"
	"testing"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/receipt"
	"github.com/lestrrat-go/jwx/v2/jwa"
)

// FuzzVerify: any input either verifies (only the signer's own receipts)
// or fails with one of the receipt codes; it never panics.
func FuzzVerify(f *testing.F) {
	s, _ := newSigner(&testing.T{}, jwa.EdDSA)
	good, err := s.Sign(sample())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(strings.Replace(good, ".", "..", 1))
	f.Add("a.b.c")
	f.Add("")
	f.Fuzz(func(t *testing.T, in string) {
		_, err := receipt.Verify(context.Background(), in, receipt.VerifyOptions{Keys: receipt.DIDKeys(offline)})
		switch errcode.CodeOf(err) {
		case "", errcode.ReceiptMalformed, errcode.ReceiptBadSignature, errcode.ReceiptKeyUnavailable:
		default:
			t.Fatalf("unexpected error %v", err)
		}
	})
}

// FuzzSearch: a log of any content is read without panicking, and every
// record handed out has a receipt.
func FuzzSearch(f *testing.F) {
	f.Add(`{"receipt":"x","claims":{"iss":"did:key:z","iat":1,"jti":"j","result":"success"}}` + "\n")
	f.Add("\n\n{\n")
	f.Fuzz(func(t *testing.T, in string) {
		_, err := receipt.Search(strings.NewReader(in), receipt.Filter{Result: receipt.Success}, func(r receipt.Record) error {
			if r.Receipt == "" || r.Claims.Result != receipt.Success {
				t.Fatalf("record %+v", r)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err) // a line too long for a record is skipped, not an error
		}
	})
}
