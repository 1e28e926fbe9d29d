package encoding

import (
	"unicode/utf8"

	"github.com/rivo/uniseg"
)

// splitter fills parts greedily with indivisible pieces: a GSM character (an escape sequence is
// one piece of 2 septets) or CR LF, or a UCS-2 grapheme cluster. Greedy filling in text order
// gives the fewest parts for that order.
type splitter struct {
	capacity int
	used     int // units in the current (last) part
	parts    int
	record   bool  // Encode: remember where parts start
	cuts     []cut // one per finished part
}

// cut is where a part ends: the byte offset in the sent text where the next starts, and the
// units of the finished part.
type cut struct{ off, units int }

// placeRun places n pieces of one unit each, one byte each, starting at byte off.
func (s *splitter) placeRun(n, off int) {
	for n > 0 {
		if s.used == s.capacity {
			s.place(1, off)
			n--
			off++
			continue
		}
		k := min(n, s.capacity-s.used)
		s.used += k
		n -= k
		off += k
	}
}

func (s *splitter) place(cost, off int) {
	if s.used+cost > s.capacity {
		if s.record {
			s.cuts = append(s.cuts, cut{off, s.used})
		}
		s.parts++
		s.used = 0
	}
	s.used += cost
}

// gsmWalker feeds the sent characters to a splitter, holding a CR back until it knows whether
// an LF follows: CR LF is one grapheme cluster and stays in one part. (Every other GSM character
// is a grapheme cluster of its own, so nothing else needs grapheme rules in GSM-7.)
type gsmWalker struct {
	sp    *splitter
	off   int // bytes of sent text so far
	cr    bool
	crOff int
}

func (w *gsmWalker) add(b rune, cost, size int) {
	if w.cr {
		w.cr = false
		if b == '\n' {
			w.sp.place(2, w.crOff)
			w.off += size
			return
		}
		w.sp.place(1, w.crOff)
	}
	if b == '\r' {
		w.cr, w.crOff = true, w.off
		w.off += size
		return
	}
	w.sp.place(cost, w.off)
	w.off += size
}

func (w *gsmWalker) flush() {
	if w.cr {
		w.cr = false
		w.sp.place(1, w.crOff)
	}
}

// gsmOut collects the sent text and the replacements for Encode.
type gsmOut struct {
	buf      []byte
	copied   int // bytes of the input already in buf
	changed  bool
	replaced []Replacement
}

func (o *gsmOut) replace(text string, start, end int, to string) {
	if !o.changed {
		o.changed = true
		o.buf = make([]byte, 0, len(text)+8)
	}
	o.buf = append(o.buf, text[o.copied:start]...)
	o.buf = append(o.buf, to...)
	o.copied = end
	from := text[start:end]
	for _, r := range o.replaced {
		if r.From == from {
			return
		}
	}
	o.replaced = append(o.replaced, Replacement{From: from, To: to})
}

func (o *gsmOut) finish(text string) string {
	if !o.changed {
		return text
	}
	return string(append(o.buf, text[o.copied:]...))
}

// walkGSM splits text as sent under c. Every character must be carried by c or have a
// replacement (decide checked it). out is nil when only counting.
func walkGSM(text string, c *combo, sp *splitter, out *gsmOut) {
	w := gsmWalker{sp: sp}
	for i := 0; i < len(text); {
		// A run of one-septet ASCII other than CR: placed at once.
		if j := i; !w.cr {
			for j < len(text) && text[j] < utf8.RuneSelf && text[j] != '\r' && c.costs[flagTable[text[j]]] == 1 {
				j++
			}
			if j > i {
				sp.placeRun(j-i, w.off)
				w.off += j - i
				i = j
				continue
			}
		}
		r, n := rune(text[i]), 1
		if r >= utf8.RuneSelf {
			r, n = utf8.DecodeRuneInString(text[i:])
		}
		if u := c.costs[flagsOf(r)]; u > 0 {
			w.add(r, int(u), n)
			i += n
			continue
		}
		s, _ := replacement(r)
		for j := 0; j < len(s); j++ {
			w.add(rune(s[j]), int(c.costs[flagTable[s[j]]]), 1)
		}
		if out != nil {
			out.replace(text, i, i+n, s)
		}
		i += n
	}
	w.flush()
}

// walkUCS2 splits text by grapheme clusters. A cluster larger than a part (long combining or
// ZWJ sequences) is split between code points, never inside a surrogate pair.
func walkUCS2(text string, sp *splitter) {
	for i := 0; i < len(text); {
		// ASCII other than CR followed by ASCII or CR (or the end) is a cluster of its own:
		// place the run at once. Its last character may take a combining mark: leave it.
		j := i
		for j < len(text) && text[j] < utf8.RuneSelf && text[j] != '\r' {
			j++
		}
		if j < len(text) && text[j] >= utf8.RuneSelf {
			j--
		}
		if j > i {
			sp.placeRun(j-i, i)
			i = j
			continue
		}
		r, n := utf8.DecodeRuneInString(text[i:])
		if simple(r) {
			j := i + n
			if j == len(text) {
				sp.place(1, i)
				return
			}
			if r2, _ := utf8.DecodeRuneInString(text[j:]); simple(r2) {
				sp.place(1, i)
				i = j
				continue
			}
		}
		cluster, _, _, _ := uniseg.FirstGraphemeClusterInString(text[i:], -1)
		cost := len(cluster)
		if cost > 1 {
			cost = 0
			for _, r := range cluster {
				cost += utf16Len(r)
			}
		}
		if cost <= sp.capacity {
			sp.place(cost, i)
		} else {
			for k, r := range cluster {
				sp.place(utf16Len(r), i+k)
			}
		}
		i += len(cluster)
	}
}

// simple reports code points (all in the BMP) whose grapheme break property is Other, Control
// or LF: between two of them there is always a cluster boundary (UAX #29 GB4, GB5, GB999), so
// the common Latin, Greek and Cyrillic text needs no full grapheme segmentation. CR is excluded
// (CR × LF). TestSimpleRunes checks every code point of these ranges against uniseg.
func simple(r rune) bool {
	switch {
	case r < 0x300:
		return r != '\r'
	case r < 0x370:
		return false
	case r < 0x483:
		return true
	case r < 0x48A:
		return false
	case r < 0x530:
		return true
	case r >= 0x2010 && r < 0x2028, r >= 0x2030 && r < 0x205F, r >= 0x20A0 && r <= 0x20C0:
		return true
	}
	return false
}
