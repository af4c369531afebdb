//go:build ignore

// gen writes zones.bin from the zone database of the Go that runs it
// ($GOROOT/lib/time/zoneinfo.zip, what time/tzdata embeds): go generate
// ./pkg/zoneinfo after a Go upgrade that brings new zone data, which
// TestEveryZoneOfGoLoadsAsFromTimeTzdata asks for.
package main

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"fmt"
	"io"
	"log"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

func main() {
	goroot, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		log.Fatalf("go env GOROOT: %v", err)
	}
	zr, err := zip.OpenReader(filepath.Join(strings.TrimSpace(string(goroot)), "lib", "time", "zoneinfo.zip"))
	if err != nil {
		log.Fatal(err)
	}
	defer zr.Close()
	areas := map[string][]*zip.File{}
	for _, f := range zr.File {
		if !f.FileInfo().IsDir() {
			areas[area(f.Name)] = append(areas[area(f.Name)], f)
		}
	}
	var index, blobs bytes.Buffer
	for _, a := range slices.Sorted(maps.Keys(areas)) {
		files := areas[a]
		slices.SortFunc(files, func(x, y *zip.File) int { return strings.Compare(x.Name, y.Name) })
		var raw bytes.Buffer
		for _, f := range files {
			data, err := read(f)
			if err != nil {
				log.Fatalf("%s: %v", f.Name, err)
			}
			raw.WriteString(f.Name + "\x00" + strconv.Itoa(len(data)) + "\x00")
			raw.Write(data)
		}
		start := blobs.Len()
		w, err := flate.NewWriter(&blobs, flate.BestCompression)
		if err != nil {
			log.Fatal(err)
		}
		if _, err := w.Write(raw.Bytes()); err != nil {
			log.Fatal(err)
		}
		if err := w.Close(); err != nil {
			log.Fatal(err)
		}
		fmt.Fprintf(&index, "%s %d %d\n", a, start, blobs.Len()-start)
	}
	out := append(append(index.Bytes(), '\n'), blobs.Bytes()...)
	if err := os.WriteFile("zones.bin", out, 0o644); err != nil {
		log.Fatal(err)
	}
}

// area is the part of a zone's name before its first slash; zones without
// one (UTC, EST5EDT, Japan) are the area "_". It must be zoneinfo.area.
func area(name string) string {
	if a, _, ok := strings.Cut(name, "/"); ok {
		return a
	}
	return "_"
}

func read(f *zip.File) ([]byte, error) {
	r, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}
