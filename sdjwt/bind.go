package sdjwt

import (
	"strings"

	"github.com/agentcert/agentcert/errcode"
)

// AddKeyBinding appends a fresh KB-JWT to a presentation that carries none
// (an SD-JWT with the chosen disclosures, ending in '~'). It is Present's
// last step on its own, for holders that present the same disclosures many
// times: choose them once with Present(sdJWT, disclose, nil), then bind each
// presentation to its own audience, nonce and time.
func AddKeyBinding(presentation string, kb *KBOptions) (string, error) {
	if kb == nil || kb.Key == nil {
		return "", errcode.New(errcode.InvalidInput, "key binding needs the holder key")
	}
	if !strings.HasSuffix(presentation, "~") {
		return "", errcode.New(errcode.InvalidInput, "the presentation must end in '~' and carry no KB-JWT")
	}
	kbJWT, err := signKB(presentation, kb)
	if err != nil {
		return "", err
	}
	return presentation + kbJWT, nil
}
