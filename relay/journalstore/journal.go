package journalstore

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/gob"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"slices"
)

// The journal file: a header, then frames, each a batch of records (or a pass of the trace's
// pruning):
//
//	header: "pushlab journal\n" then the format's version, a byte
//	frame:  payload length (uint32, little-endian; its top bit set when the frame begins a gob
//	        stream) · CRC-32C of that length word · CRC-32C of the payload · payload
//
// The length has a checksum of its own so that a damaged length is told from a frame cut off
// at the end of the file: only the latter is a torn tail, which reading may drop.
//
// The payloads are gob streams cut at frame boundaries: the frame that begins a stream carries
// gob's definitions of the types it uses, later frames only values, so that a small batch does
// not pay for encoding the types again (they are most of a one-push frame, and cost more CPU
// than its values). A stream begins at the start of the file, at the first frame appended after
// the journal was opened, and at the first frame after a compaction's snapshot: the frames from
// there on read alone, and a compaction copies them as bytes.
//
// A frame is written with one write(2), which a process killed (SIGKILL included) leaves whole
// but for a write the kernel cut short (a full disk; a kill landing in a write of many pages).
// A machine that stops (power, kernel) may leave the last frames short or unwritten. Reading
// finds either as a tail that does not check out, which Open drops, keeping a copy.
const (
	magic         = "pushlab journal\n"
	formatVersion = 1
	headerSize    = len(magic) + 1
	frameHeader   = 12
	// maxFrame bounds a frame's payload: a length beyond it is damage, not a batch.
	maxFrame = 1 << 30
	// beginsStream is the length word's flag of a frame that begins a gob stream.
	beginsStream = 1 << 31
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// header is the file's first bytes.
func header() []byte { return append([]byte(magic), formatVersion) }

// frameEncoder encodes frames as one gob stream.
type frameEncoder struct {
	buf bytes.Buffer
	enc *gob.Encoder // nil: the next frame begins a stream
}

// encode appends f to dst as a frame. A failed encoding leaves gob's stream in doubt, so the
// next frame begins a new one.
func (e *frameEncoder) encode(dst []byte, f *frame) ([]byte, error) {
	begins := e.enc == nil
	if begins {
		e.enc = gob.NewEncoder(&e.buf)
	}
	e.buf.Reset()
	if err := e.enc.Encode(f); err != nil {
		e.enc = nil
		return dst, err
	}
	if e.buf.Len() >= maxFrame {
		e.enc = nil
		return dst, fmt.Errorf("a frame of %d bytes: more than the journal's %d", e.buf.Len(), maxFrame)
	}
	word := uint32(e.buf.Len())
	if begins {
		word |= beginsStream
	}
	dst = binary.LittleEndian.AppendUint32(dst, word)
	dst = binary.LittleEndian.AppendUint32(dst, crc32.Checksum(dst[len(dst)-4:], castagnoli))
	dst = binary.LittleEndian.AppendUint32(dst, crc32.Checksum(e.buf.Bytes(), castagnoli))
	return append(dst, e.buf.Bytes()...), nil
}

// restart makes the next frame begin a new stream.
func (e *frameEncoder) restart() { e.enc = nil }

// frameDecoder decodes the frames of a journal, stream by stream.
type frameDecoder struct {
	r   bytes.Reader
	dec *gob.Decoder
}

// decode decodes one frame's payload into f.
func (d *frameDecoder) decode(payload []byte, begins bool, f *frame) error {
	d.r.Reset(payload)
	switch {
	case begins:
		d.dec = gob.NewDecoder(&d.r) // a bytes.Reader is an io.ByteReader: gob reads no further than it needs
	case d.dec == nil:
		return errors.New("it continues a stream no frame began")
	}
	if err := d.dec.Decode(f); err != nil {
		d.dec = nil
		return err
	}
	if d.r.Len() != 0 {
		return fmt.Errorf("%d bytes after its value", d.r.Len())
	}
	return nil
}

// frameHead is a frame's header as read, for readJournal and copyFrames alike.
type frameHead struct {
	length uint32 // the payload's
	begins bool   // the frame begins a gob stream
	sum    uint32 // the payload's CRC-32C
	wordOK bool   // the length word matches its own checksum
}

// parseHead reads a frame's header.
func parseHead(fh *[frameHeader]byte) frameHead {
	word := binary.LittleEndian.Uint32(fh[:4])
	return frameHead{
		length: word &^ beginsStream,
		begins: word&beginsStream != 0,
		sum:    binary.LittleEndian.Uint32(fh[8:]),
		wordOK: crc32.Checksum(fh[:4], castagnoli) == binary.LittleEndian.Uint32(fh[4:8]),
	}
}

// lengthOK reports whether the length is one a frame can have; any other is damage.
func (h frameHead) lengthOK() bool { return h.length > 0 && h.length <= maxFrame }

// errDamaged is a journal whose frames stop checking out before its end: not a torn tail.
var errDamaged = errors.New("journal damaged")

// readJournal reads the journal in r (size bytes), calling each for every frame in order, with
// the frame's length in the file. It returns the length of the part that checks out (0: not
// even the header, which the caller writes anew). When that is less than size, the rest is a
// tail that a write cut short left (a frame header cut off, a frame that runs past the end of
// the file, a last frame whose payload does not match its checksum, or space the file system
// extended the file by and never wrote: zeros to the end), and the caller drops it. Anything
// else that does not check out is damage: errDamaged, with whole frames, or bytes that are not
// zeros, after it; nothing is to be dropped. An empty file is a new journal.
func readJournal(r io.Reader, size int64, each func(f *frame, length int64) error) (good int64, err error) {
	if size == 0 {
		return 0, nil
	}
	br := bufio.NewReaderSize(r, 1<<20)
	h := make([]byte, headerSize)
	n, _ := io.ReadFull(br, h)
	switch {
	case int64(n) == size && n < headerSize && bytes.HasPrefix(header(), h[:n]):
		return 0, nil // a header cut off: a new journal whose first write was cut short
	case n < headerSize || string(h[:len(magic)]) != magic:
		return 0, errors.New("not a pushlab journal (its first bytes are not a journal's header; does --journal name a SQLite --db file?)")
	}
	if h[len(magic)] != formatVersion {
		return 0, fmt.Errorf("journal format %d: this relay reads format %d (was it written by a newer relay?)", h[len(magic)], formatVersion)
	}
	off := int64(headerSize)
	var payload []byte
	var dec frameDecoder
	for n := 1; off < size; n++ {
		if size-off < frameHeader {
			return off, nil // a frame's header cut off: the tail
		}
		var fh [frameHeader]byte
		if _, err := io.ReadFull(br, fh[:]); err != nil {
			return off, fmt.Errorf("read frame %d at byte %d: %w", n, off, err)
		}
		head := parseHead(&fh)
		if !head.wordOK {
			zeros, err := onlyZeros(br, fh[:])
			if err != nil {
				return off, fmt.Errorf("read frame %d at byte %d: %w", n, off, err)
			}
			if zeros {
				return off, nil // space extended and never written: the tail
			}
			return off, fmt.Errorf("%w: frame %d at byte %d: its length does not match its checksum", errDamaged, n, off)
		}
		length := head.length
		end := off + frameHeader + int64(length)
		switch {
		case !head.lengthOK():
			return off, fmt.Errorf("%w: frame %d at byte %d: a length of %d", errDamaged, n, off, length)
		case end > size:
			return off, nil // a frame cut off: the tail
		}
		if cap(payload) < int(length) {
			payload = make([]byte, length)
		}
		payload = payload[:length]
		if _, err := io.ReadFull(br, payload); err != nil {
			return off, fmt.Errorf("read frame %d at byte %d: %w", n, off, err)
		}
		if crc32.Checksum(payload, castagnoli) != head.sum {
			if end == size {
				return off, nil // the last frame, not all of it written: the tail
			}
			return off, fmt.Errorf("%w: frame %d at byte %d does not match its checksum, and %d bytes follow it",
				errDamaged, n, off, size-end)
		}
		var f frame
		if err := dec.decode(payload, head.begins, &f); err != nil {
			return off, fmt.Errorf("%w: frame %d at byte %d: %v", errDamaged, n, off, err)
		}
		if err := each(&f, end-off); err != nil {
			return off, fmt.Errorf("frame %d at byte %d: %w", n, off, err)
		}
		off = end
	}
	return off, nil
}

// copyFrames copies the n bytes of whole frames in src to dst, checking each frame's two
// checksums on the way, not decoding its payload: a compaction's swap copies the frames
// appended while it ran, and a frame that no longer checks out must not pass into the new
// journal, where the next start would refuse it or drop it as a torn tail. Whatever keeps src
// from giving n bytes of whole frames that check out — fewer bytes, a changed byte, a read that
// fails — is errDamaged; an error writing to dst is not.
func copyFrames(dst io.Writer, src io.Reader, n int64) error {
	br := bufio.NewReaderSize(src, 256<<10)
	bw := bufio.NewWriterSize(dst, 256<<10)
	var payload []byte
	read := func(b []byte, off int64) error {
		if _, err := io.ReadFull(br, b); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return fmt.Errorf("%w: the frame at byte %d after the snapshot: the journal is shorter than the store wrote", errDamaged, off)
			}
			return fmt.Errorf("%w: the frame at byte %d after the snapshot: %w", errDamaged, off, err)
		}
		return nil
	}
	for off := int64(0); off < n; {
		var fh [frameHeader]byte
		if err := read(fh[:], off); err != nil {
			return err
		}
		head := parseHead(&fh)
		end := off + frameHeader + int64(head.length)
		switch {
		case !head.wordOK:
			return fmt.Errorf("%w: the frame at byte %d after the snapshot: its length does not match its checksum", errDamaged, off)
		case !head.lengthOK() || end > n:
			return fmt.Errorf("%w: the frame at byte %d after the snapshot: a length of %d", errDamaged, off, head.length)
		}
		payload = slices.Grow(payload[:0], int(head.length))[:head.length]
		if err := read(payload, off); err != nil {
			return err
		}
		if crc32.Checksum(payload, castagnoli) != head.sum {
			return fmt.Errorf("%w: the frame at byte %d after the snapshot does not match its checksum", errDamaged, off)
		}
		if _, err := bw.Write(fh[:]); err != nil {
			return fmt.Errorf("write: %w", err)
		}
		if _, err := bw.Write(payload); err != nil {
			return fmt.Errorf("write: %w", err)
		}
		off = end
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

// onlyZeros reports whether read (bytes already read) and the rest of r are all zeros.
func onlyZeros(r io.Reader, read []byte) (bool, error) {
	if slices.ContainsFunc(read, func(b byte) bool { return b != 0 }) {
		return false, nil
	}
	buf := make([]byte, 64<<10)
	for {
		n, err := r.Read(buf)
		if slices.ContainsFunc(buf[:n], func(b byte) bool { return b != 0 }) {
			return false, nil
		}
		if err == io.EOF {
			return true, nil
		}
		if err != nil {
			return false, err
		}
	}
}
