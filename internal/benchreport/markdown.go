package benchreport

import (
	"errors"
	"fmt"
	"strings"
)

// The generated part of a document lies between these two lines.
const (
	BeginMarker = "<!-- bench-report:begin -->"
	EndMarker   = "<!-- bench-report:end -->"
)

// ErrMarkers is returned (wrapped) when a document does not hold exactly
// one BeginMarker line followed by one EndMarker line.
var ErrMarkers = errors.New("bench-report markers")

// Rewrite returns doc with the lines between its BeginMarker line and its
// EndMarker line replaced by generated. Everything up to and including
// the begin marker's line, and from the end marker's line on, is kept
// byte for byte. Each marker must be a line of its own, once, begin
// first; generated must not contain a marker.
func Rewrite(doc, generated string) (string, error) {
	if strings.Contains(generated, BeginMarker) || strings.Contains(generated, EndMarker) {
		return "", fmt.Errorf("%w: the generated text contains a marker", ErrMarkers)
	}
	_, beginEnd, err := markerLine(doc, BeginMarker)
	if err != nil {
		return "", err
	}
	endStart, _, err := markerLine(doc, EndMarker)
	if err != nil {
		return "", err
	}
	if endStart < beginEnd {
		return "", fmt.Errorf("%w: %s comes before %s", ErrMarkers, EndMarker, BeginMarker)
	}
	// Keep the begin marker's line with its line ending, and the end
	// marker's line from its first byte.
	head := doc[:beginEnd+1]
	nl := "\n"
	if strings.HasSuffix(doc[:beginEnd], "\r") {
		nl = "\r\n"
	}
	body := strings.Trim(generated, "\r\n")
	if body != "" {
		body = "\n" + strings.ReplaceAll(body, "\r\n", "\n") + "\n\n"
	}
	if nl == "\r\n" {
		body = strings.ReplaceAll(body, "\n", "\r\n")
	}
	return head + body + doc[endStart:], nil
}

// markerLine returns the offsets of the start and of the end (its '\n',
// or len(doc)) of the one line of doc that is marker (surrounding spaces
// allowed, nothing else).
func markerLine(doc, marker string) (start, end int, err error) {
	start = -1
	for off := 0; off < len(doc); {
		i := strings.Index(doc[off:], marker)
		if i < 0 {
			break
		}
		i += off
		lineStart := strings.LastIndexByte(doc[:i], '\n') + 1
		lineEnd := len(doc)
		if j := strings.IndexByte(doc[i:], '\n'); j >= 0 {
			lineEnd = i + j
		}
		if strings.TrimSpace(doc[lineStart:i]) != "" || strings.TrimSpace(doc[i+len(marker):lineEnd]) != "" {
			return 0, 0, fmt.Errorf("%w: %s is not on a line of its own", ErrMarkers, marker)
		}
		if start >= 0 {
			return 0, 0, fmt.Errorf("%w: %s appears more than once", ErrMarkers, marker)
		}
		start, end = lineStart, lineEnd
		off = i + len(marker)
	}
	if start < 0 {
		return 0, 0, fmt.Errorf("%w: %s not found; put it on its own line where the generated tables go", ErrMarkers, marker)
	}
	return start, end, nil
}
