package benchreport

import (
	"errors"
	"strings"
	"testing"
)

const doc = "# Benchmarks\n\nHand-written text.\n\n" + BeginMarker + "\nold table\n| a | b |\n" + EndMarker + "\n\n## After\n\nMore text, kept.\n"

func TestRewriteReplacesOnlyBetweenMarkers(t *testing.T) {
	out, err := Rewrite(doc, "| new | table |\n|---|---|\n")
	if err != nil {
		t.Fatal(err)
	}
	head := "# Benchmarks\n\nHand-written text.\n\n" + BeginMarker + "\n"
	foot := EndMarker + "\n\n## After\n\nMore text, kept.\n"
	if want := head + "\n| new | table |\n|---|---|\n\n" + foot; out != want {
		t.Errorf("got\n%q\nwant\n%q", out, want)
	}
	// Rewriting again with the same content changes nothing.
	again, err := Rewrite(out, "| new | table |\n|---|---|\n")
	if err != nil || again != out {
		t.Errorf("not idempotent: %v\n%q", err, again)
	}
	// An empty body leaves the markers next to each other.
	empty, err := Rewrite(doc, "")
	if err != nil || empty != head+foot {
		t.Errorf("empty: %v %q", err, empty)
	}
}

func TestRewriteKeepsSurroundingBytes(t *testing.T) {
	// Indented markers, CRLF line endings and no newline at the end of the
	// file: everything outside the markers stays as it was.
	in := "a\r\n  " + BeginMarker + "  \r\nold\r\n\t" + EndMarker + "\r\nz"
	out, err := Rewrite(in, "x\ny")
	if err != nil {
		t.Fatal(err)
	}
	if want := "a\r\n  " + BeginMarker + "  \r\n\r\nx\r\ny\r\n\r\n\t" + EndMarker + "\r\nz"; out != want {
		t.Errorf("got %q\nwant %q", out, want)
	}
}

func TestRewriteMarkerErrors(t *testing.T) {
	for name, in := range map[string]string{
		"no markers":        "# Benchmarks\n",
		"no begin":          "a\n" + EndMarker + "\n",
		"no end":            "a\n" + BeginMarker + "\n",
		"end first":         EndMarker + "\n" + BeginMarker + "\n",
		"two begins":        BeginMarker + "\n" + BeginMarker + "\n" + EndMarker + "\n",
		"two ends":          BeginMarker + "\n" + EndMarker + "\n" + EndMarker + "\n",
		"begin inside text": "see " + BeginMarker + "\n" + EndMarker + "\n",
		"end inside text":   BeginMarker + "\n" + EndMarker + " trailing\n",
		"same line":         BeginMarker + EndMarker + "\n",
	} {
		out, err := Rewrite(in, "table")
		if !errors.Is(err, ErrMarkers) {
			t.Errorf("%s: err %v, out %q", name, err, out)
		}
	}
	if _, err := Rewrite(doc, "x\n"+EndMarker+"\n"); !errors.Is(err, ErrMarkers) {
		t.Errorf("generated text with a marker: %v", err)
	}
	_, err := Rewrite("# Benchmarks\n", "t")
	if err == nil || !strings.Contains(err.Error(), BeginMarker) {
		t.Errorf("the error does not name the missing marker: %v", err)
	}
}

// FuzzRewrite: around any generated text, the bytes outside the markers
// are kept, and the result holds exactly one pair of markers.
func FuzzRewrite(f *testing.F) {
	f.Add("before\n", "after\n", "gen")
	f.Add("x\r\n", "\r\ny", "a\r\nb")
	f.Fuzz(func(t *testing.T, before, after, gen string) {
		in := before + "\n" + BeginMarker + "\nold\n" + EndMarker + "\n" + after
		out, err := Rewrite(in, gen)
		if err != nil {
			return // markers in the fuzzed parts
		}
		if !strings.HasPrefix(out, before+"\n"+BeginMarker+"\n") || !strings.HasSuffix(out, EndMarker+"\n"+after) {
			t.Fatalf("outside bytes changed: %q -> %q", in, out)
		}
		if strings.Count(out, BeginMarker) != 1 || strings.Count(out, EndMarker) != 1 {
			t.Fatalf("markers in %q", out)
		}
	})
}
