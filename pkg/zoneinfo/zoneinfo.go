// Package zoneinfo loads IANA time zones from a copy of Go's zone database
// built into the binary, whatever the system has: Lambda's provided.al2023
// runtime has no /usr/share/zoneinfo, and a machine that has one may hold
// other versions or other names (posix/…, right/…).
//
// The database is time/tzdata's (Go's lib/time/zoneinfo.zip), compressed
// by area (Europe, America, …): 85 KB where time/tzdata embeds 450 KB
// uncompressed. A zone's first use inflates its area (about 0.2 ms; the
// largest, America, is 150 KB), and the zone is then kept. Only the
// functions that link the package carry it: aggregate-events.
package zoneinfo

//go:generate go run gen.go

import (
	"bytes"
	"compress/flate"
	_ "embed"
	"errors"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"
)

// zones is the database gen.go writes: an index of lines "area offset
// length" and an empty line, then each area's zones, raw DEFLATE at its
// offset, each zone as its name, a NUL, its length in decimal, a NUL and
// its TZif data.
//
//go:embed zones.bin
var zones []byte

var (
	mu     sync.Mutex
	loaded = map[string]*time.Location{}
)

// errUnknownZone is the error for a name the database does not have.
var errUnknownZone = errors.New("zoneinfo: unknown time zone")

// Load returns the zone of the IANA name, as time.LoadLocation does with
// time/tzdata and no system database: "" and "UTC" are time.UTC, any other
// name must be one of the database's ("Local" and paths are not).
func Load(name string) (*time.Location, error) {
	if name == "" || name == "UTC" {
		return time.UTC, nil
	}
	mu.Lock()
	defer mu.Unlock()
	if loc, ok := loaded[name]; ok {
		return loc, nil
	}
	data, err := find(name)
	if err != nil {
		return nil, err
	}
	loc, err := time.LoadLocationFromTZData(name, data)
	if err != nil {
		return nil, err
	}
	loaded[name] = loc
	return loc, nil
}

// find returns the TZif data of the zone name.
func find(name string) ([]byte, error) {
	data, err := inflate(area(name))
	for len(data) > 0 && err == nil {
		var zone string
		var tzif []byte
		if zone, tzif, data, err = next(data); zone == name {
			return tzif, err
		}
	}
	if err != nil {
		return nil, err
	}
	return nil, errUnknownZone
}

// inflate returns the zones of area a, as next reads them; none when the
// database has no such area.
func inflate(a string) ([]byte, error) {
	index, blobs, _ := bytes.Cut(zones, []byte("\n\n"))
	for line := range strings.Lines(string(index)) {
		f := strings.Fields(line)
		if len(f) != 3 || f[0] != a {
			continue
		}
		off, err1 := strconv.Atoi(f[1])
		n, err2 := strconv.Atoi(f[2])
		if err1 != nil || err2 != nil || off < 0 || n < 0 || off+n > len(blobs) {
			return nil, errCorrupt
		}
		data, err := io.ReadAll(flate.NewReader(bytes.NewReader(blobs[off : off+n])))
		if err != nil {
			return nil, errCorrupt
		}
		return data, nil
	}
	return nil, nil
}

// next splits the first zone, its name and TZif data, off an area's zones.
func next(data []byte) (name string, tzif, rest []byte, err error) {
	zone, rest, ok1 := bytes.Cut(data, []byte{0})
	size, rest, ok2 := bytes.Cut(rest, []byte{0})
	n, err := strconv.Atoi(string(size))
	if !ok1 || !ok2 || err != nil || n < 0 || n > len(rest) {
		return "", nil, nil, errCorrupt
	}
	return string(zone), rest[:n], rest[n:], nil
}

var errCorrupt = errors.New("zoneinfo: the embedded database is corrupt")

// area is the part of a zone's name before its first slash; zones without
// one (UTC, EST5EDT, Japan) are the area "_".
func area(name string) string {
	if a, _, ok := strings.Cut(name, "/"); ok {
		return a
	}
	return "_"
}
