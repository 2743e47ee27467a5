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
)

// The journal file: a header, then frames, each a batch of records (or a pass of the trace's
// pruning) as one gob stream of its own:
//
//	header: "pushlab journal\n" then the format's version, a byte
//	frame:  payload length (uint32, little-endian) · CRC-32C of the payload (uint32) · payload
//
// A frame is written with one write(2): a process killed (SIGKILL included) leaves whole frames
// only. A machine that stops (power, kernel) may leave the last frames short or unwritten,
// which reading finds as a tail that does not check out and drops (readJournal).
const (
	magic         = "pushlab journal\n"
	formatVersion = 1
	headerSize    = len(magic) + 1
	frameHeader   = 8
	// maxFrame bounds a frame's payload: a length beyond it is damage, not a batch.
	maxFrame = 1 << 30
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// header is the file's first bytes.
func header() []byte { return append([]byte(magic), formatVersion) }

// encodeFrame appends f as a frame to buf, with a gob encoder of its own so that the frame
// reads back alone (compaction copies frames from one file to the next as bytes).
func encodeFrame(buf []byte, f *frame) ([]byte, error) {
	var payload bytes.Buffer
	if err := gob.NewEncoder(&payload).Encode(f); err != nil {
		return buf, err
	}
	if payload.Len() > maxFrame {
		return buf, fmt.Errorf("a frame of %d bytes: more than the journal's %d", payload.Len(), maxFrame)
	}
	buf = binary.LittleEndian.AppendUint32(buf, uint32(payload.Len()))
	buf = binary.LittleEndian.AppendUint32(buf, crc32.Checksum(payload.Bytes(), castagnoli))
	return append(buf, payload.Bytes()...), nil
}

// errDamaged is a journal whose frames stop checking out before its end: not a torn tail.
var errDamaged = errors.New("journal damaged")

// readJournal reads the journal in r (size bytes), calling each for every frame in order. It
// returns the length of the part that checks out: when that is less than size, the rest is a
// tail a stopped machine left short (a frame cut off, or whose bytes do not match its CRC) and
// the caller truncates it. A frame that does not check out with whole frames after it is
// damage, not a torn tail: errDamaged, and nothing is dropped. An empty file is a new journal.
func readJournal(r io.Reader, size int64, each func(*frame) error) (good int64, err error) {
	if size == 0 {
		return 0, nil
	}
	br := bufio.NewReaderSize(r, 1<<20)
	h := make([]byte, headerSize)
	if _, err := io.ReadFull(br, h); err != nil || string(h[:len(magic)]) != magic {
		return 0, errors.New("not a pushlab journal (its first bytes are not the journal's header)")
	}
	if h[len(magic)] != formatVersion {
		return 0, fmt.Errorf("journal format %d: this relay reads format %d (was it written by a newer relay?)", h[len(magic)], formatVersion)
	}
	off := int64(headerSize)
	var payload []byte
	for n := 1; off < size; n++ {
		var fh [frameHeader]byte
		if _, err := io.ReadFull(br, fh[:]); err != nil {
			return off, nil // a frame's header cut off: the tail
		}
		length, sum := binary.LittleEndian.Uint32(fh[:4]), binary.LittleEndian.Uint32(fh[4:])
		end := off + frameHeader + int64(length)
		if length == 0 || length > maxFrame || end > size {
			// A frame cut off, a length torn with it, or space the file system extended the
			// file by and never wrote (zeros: no frame is empty): the tail.
			return off, nil
		}
		if cap(payload) < int(length) {
			payload = make([]byte, length)
		}
		payload = payload[:length]
		if _, err := io.ReadFull(br, payload); err != nil {
			return off, fmt.Errorf("read frame %d at byte %d: %w", n, off, err)
		}
		if crc32.Checksum(payload, castagnoli) != sum {
			if end == size {
				return off, nil // the last frame, not all of it written: the tail
			}
			return off, fmt.Errorf("%w: frame %d at byte %d does not match its checksum, and %d bytes follow it",
				errDamaged, n, off, size-end)
		}
		var f frame
		if err := gob.NewDecoder(bytes.NewReader(payload)).Decode(&f); err != nil {
			return off, fmt.Errorf("%w: frame %d at byte %d: %v", errDamaged, n, off, err)
		}
		if err := each(&f); err != nil {
			return off, fmt.Errorf("frame %d at byte %d: %w", n, off, err)
		}
		off = end
	}
	return off, nil
}
