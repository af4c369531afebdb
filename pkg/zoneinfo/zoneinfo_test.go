package zoneinfo

import (
	"archive/zip"
	"bytes"
	"errors"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// goZones reads the zone database of the Go that runs the test: what
// time/tzdata embeds, whatever the system has.
func goZones(t *testing.T) map[string][]byte {
	t.Helper()
	goroot, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		t.Fatalf("go env GOROOT: %v", err)
	}
	zr, err := zip.OpenReader(filepath.Join(strings.TrimSpace(string(goroot)), "lib", "time", "zoneinfo.zip"))
	if err != nil {
		t.Fatalf("Go's zoneinfo.zip: %v", err)
	}
	defer zr.Close()
	zones := map[string][]byte{}
	for _, f := range zr.File {
		if f.FileInfo().IsDir() {
			continue
		}
		r, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		if zones[f.Name], err = io.ReadAll(r); err != nil {
			t.Fatal(err)
		}
		r.Close()
	}
	return zones
}

// TestEveryZoneOfGoLoadsAsFromTimeTzdata holds the embedded database to
// time/tzdata's: the same zones, each with the same TZif bytes, in the area
// Load looks for it in, and loaded under its name.
func TestEveryZoneOfGoLoadsAsFromTimeTzdata(t *testing.T) {
	const regenerate = "zones.bin is not this Go's zone database: run go generate ./pkg/zoneinfo"
	want := goZones(t)
	if len(want) < 500 {
		t.Fatalf("Go's zoneinfo.zip has %d zones, want the whole database", len(want))
	}
	got := map[string][]byte{}
	index, _, _ := bytes.Cut(zones, []byte("\n\n"))
	for line := range strings.Lines(string(index)) {
		a := strings.Fields(line)[0]
		data, err := inflate(a)
		if err != nil {
			t.Fatalf("area %s: %v", a, err)
		}
		for len(data) > 0 {
			var name string
			var tzif []byte
			if name, tzif, data, err = next(data); err != nil {
				t.Fatalf("area %s: %v", a, err)
			}
			if area(name) != a {
				t.Errorf("%s is in the area %s, where Load does not look for it", name, a)
			}
			got[name] = tzif
		}
	}
	for name, tzif := range want {
		if !bytes.Equal(got[name], tzif) {
			t.Errorf("%s: %d bytes, want %d as in Go's database (%s)", name, len(got[name]), len(tzif), regenerate)
			continue
		}
		if loc, err := Load(name); err != nil || (loc.String() != name && name != "UTC") {
			t.Errorf("Load(%q) = %v, %v; want the zone", name, loc, err)
		}
	}
	for name := range got {
		if want[name] == nil {
			t.Errorf("%s is not in Go's database (%s)", name, regenerate)
		}
	}
}

func TestLoad(t *testing.T) {
	amsterdam, err := Load("Europe/Amsterdam")
	if err != nil {
		t.Fatal(err)
	}
	again, _ := Load("Europe/Amsterdam")
	if again != amsterdam {
		t.Errorf("a second Load of a zone made another Location; want the one loaded first")
	}
	for _, tc := range []struct {
		desc, name string
		at         time.Time
		offset     int // seconds east of UTC; -1: no such zone
	}{
		{"Amsterdam is an hour ahead until summer time starts", "Europe/Amsterdam", time.Date(2026, 3, 29, 0, 59, 0, 0, time.UTC), 3600},
		{"Amsterdam is two hours ahead once summer time starts", "Europe/Amsterdam", time.Date(2026, 3, 29, 1, 0, 0, 0, time.UTC), 7200},
		{"Kolkata is five and a half hours ahead", "Asia/Kolkata", time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC), 19800},
		{"a zone three names deep loads", "America/Argentina/Buenos_Aires", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), -3 * 3600},
		{"a zone without an area loads", "EST5EDT", time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC), -4 * 3600},
		{"UTC is UTC", "UTC", time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC), 0},
		{"no name is UTC", "", time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC), 0},
		{"Local is no zone", "Local", time.Time{}, -1},
		{"an unknown area is no zone", "Mars/Olympus", time.Time{}, -1},
		{"an unknown zone of a known area is no zone", "Europe/Atlantis", time.Time{}, -1},
		{"a system database's posix copy is no zone", "posix/Europe/Amsterdam", time.Time{}, -1},
		{"a relative path is no zone", "../../../../etc/localtime", time.Time{}, -1},
		{"an absolute path is no zone", "/etc/localtime", time.Time{}, -1},
		{"names are matched in their case", "europe/amsterdam", time.Time{}, -1},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			loc, err := Load(tc.name)
			if tc.offset == -1 {
				if !errors.Is(err, errUnknownZone) {
					t.Fatalf("Load(%q) = %v, %v; want errUnknownZone", tc.name, loc, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, off := tc.at.In(loc).Zone(); off != tc.offset {
				t.Fatalf("%s at %s: offset %d s, want %d", tc.name, tc.at, off, tc.offset)
			}
		})
	}
}
