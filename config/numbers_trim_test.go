package config

import (
	"strings"
	"testing"
)

// TestNumberTrimsAreTheLibrarys: the loops that replace strings.TrimLeft
// and strings.Trim in the number readers give the library's results on
// every byte value, alone and in words.
func TestNumberTrimsAreTheLibrarys(t *testing.T) {
	words := []string{"", " ", "0", "007", " \t\f\n\r\v12", "+5", "-5", "1.5", "12a", "a12", "\x00", "\x0e1", "\xff"}
	for c := 0; c < 256; c++ {
		words = append(words, string(rune(c)), string([]byte{byte(c), '1'}), string([]byte{'1', byte(c)}))
	}
	for _, w := range words {
		if got, want := trimLeftSpace(w), strings.TrimLeft(w, whiteSpace); got != want {
			t.Errorf("trimLeftSpace(%q) = %q, strings.TrimLeft gives %q", w, got, want)
		}
		if got, want := onlyDigits(w), strings.Trim(w, "0123456789") == ""; got != want {
			t.Errorf("onlyDigits(%q) = %v, strings.Trim gives %v", w, got, want)
		}
	}
}
