package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestSummaryReadsEveryFigureInOrder(t *testing.T) {
	dir := t.TempDir()
	for fn, size := range map[string]int{"put-event": 300, "aggregate-events": 700} {
		if err := os.MkdirAll(filepath.Join(dir, fn), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, fn, "bootstrap"), make([]byte, size), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := `goos: linux
BenchmarkPut/single-2         	      20	  23386362 ns/op	         7.000 WCU/event	         6.000 local-WCU/event
BenchmarkPut/batch25-2                 	      20	  30161196 ns/op	         3.160 WCU/event	         0.2400 local-WCU/event
BenchmarkListPage100-2                          	      20	   9438430 ns/op	        12.00 RCU/op
BenchmarkList20k/nomatch_device-2         	      20	  30903469 ns/op	       127.5 RCU-max/request	      2323 RCU/pass	        19.00 requests/pass
BenchmarkList20k/critical_of_20k-2  	      20	   1667862 ns/op	         1.500 RCU/op
BenchmarkList20k/open_alarms_of_20k-2         	      20	   1393186 ns/op	         1.500 RCU/op
BenchmarkList20k/fleet_page100-2                         	      20	   7794362 ns/op	        13.60 RCU/op
BenchmarkAggregate/year_daily_utc-2             	      20	  77700603 ns/op	        12.50 RCU/op
BenchmarkAggregate/day_hourly-2                 	      20	   1445795 ns/op	         1.000 RCU/op
BenchmarkAggregate/fleet_year_daily-2           	      20	  77700603 ns/op	        13.50 RCU/op
BenchmarkAggregate/device_alltypes_year_50types-2	      20	  77700603 ns/op	        12.50 RCU/op
BenchmarkAggregateVsNaive-2                     	      20	 381457574 ns/op	       726.0 RCU-ratio	         0.5000 counter-RCU/op	       363.0 naive-RCU/op	        84.53 time-ratio
BenchmarkPutOverhead-2   	      20	 227555726 ns/op	       167.8 api-puts/s	         1.120 overhead-ratio	       188.0 sdk-puts/s
BenchmarkPutHandler-2   	    5000	     42702 ns/op	   17503 B/op	     195 allocs/op
BenchmarkListAnswerSize-2   	       1	10268392343 ns/op	   5724409 max-bytes
BenchmarkColdStart-2   	      21	  10013175 ns/op	         2.639 hello-ms	   5234688 hello-peak-rss-B	         4.300 hellosdk-ms	   9437184 hellosdk-peak-rss-B	         5.090 put-event-ms	  11534336 put-event-peak-rss-B	         6.020 aggregate-events-ms	  12582912 aggregate-events-peak-rss-B	         1.184 put-event/hellosdk	         1.120 put-event/hellosdk-same-calls	         1.000 put-event-sdk-calls	         1.400 aggregate-events/hellosdk	         1.400 max/hellosdk	  12582912 max-peak-rss-B	         1.929 ratio	         1.629 sdk-ratio
BenchmarkPatch/after_100_updates-2         	      20	  68191620 ns/op	         5.050 RCU/op	         3.000 WCU/op	         3.000 local-WCU/op
BenchmarkPatch/after_100_updates_warning-2 	      20	  73367520 ns/op	         5.050 RCU/op	         3.000 WCU/op	         3.000 local-WCU/op
BenchmarkPut6MBBody-2   	      10	 159292914 ns/op	        47.65 cpu-ms/op	        35.82 numbers-cpu-ms/op	        47.65 objects-cpu-ms/op	        32.80 over-cpu-ms/op	        39.46 string-cpu-ms/op
PASS
`
	file := filepath.Join(dir, "bench.txt")
	if err := os.WriteFile(file, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	var got strings.Builder
	if err := summary(&got, dir, 500, []string{file}); err != nil {
		t.Fatal(err)
	}
	want := `== summary ==
put.single.wcu_per_event 7.000
put.batch25.wcu_per_event 3.160
list.page100.rcu 12.00
list.nomatch_20k.rcu_max_per_request 127.5
list.critical_of_20k.rcu 1.500
list.open_alarms_of_20k.rcu 1.500
list.fleet_page100.rcu 13.60
aggregate.year_daily.rcu 12.50
aggregate.day_hourly.rcu 1.000
aggregate.fleet_year_daily.rcu 13.50
aggregate.device_alltypes_year_50types.rcu 12.50
aggregate.naive_over_counter.rcu_ratio 726.0
aggregate.naive_over_counter.time_ratio 84.53
e2e.put.overhead_ratio 1.120
handler.put.allocs_per_op 195
response.max_bytes 5724409
binary.max_bytes 700
coldstart.ratio_vs_hello 1.929
coldstart.ratio_vs_hellosdk 1.400
binary.max_over_hellosdk 1.400
coldstart.peak_rss_bytes 12582912
patch.wcu_after_100_updates 3.000
put.6mb_body.cpu_ms 47.65
`
	if !strings.HasPrefix(got.String(), want) {
		t.Fatalf("got\n%s\nwant it to begin with\n%s", got.String(), want)
	}
	for _, line := range []string{
		"coldstart.aggregate-events.ratio_vs_hellosdk 1.400", "coldstart.aggregate-events.peak_rss_bytes 12582912",
		"coldstart.put-event.ratio_vs_hellosdk 1.184", "coldstart.put-event.peak_rss_bytes 11534336",
		"coldstart.put-event.ratio_vs_hellosdk_same_calls 1.120", "coldstart.put-event.sdk_calls 1.000",
		"coldstart.hellosdk.peak_rss_bytes 9437184", "binary.put-event.bytes 300", "binary.hellosdk.bytes 500",
	} {
		if !strings.Contains(got.String(), "\n"+line+"\n") {
			t.Errorf("got\n%s\nwant the line %s", got.String(), line)
		}
	}
}

func TestSummaryRefusesAFunctionWithoutColdStartFigures(t *testing.T) {
	dir := t.TempDir()
	for _, fn := range []string{"put-event", "patch-event"} {
		if err := os.MkdirAll(filepath.Join(dir, fn), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, fn, "bootstrap"), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var out strings.Builder
	for _, l := range block {
		if l.from.bench != "" {
			fmt.Fprintf(&out, "%s-2 1 1 ns/op 1.000 %s\n", l.from.bench, l.from.unit)
		}
	}
	out.WriteString("BenchmarkColdStart-2 1 1 ns/op 1.100 put-event/hellosdk 9000000 put-event-peak-rss-B\n")
	file := filepath.Join(dir, "bench.txt")
	if err := os.WriteFile(file, []byte(out.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	err := summary(&strings.Builder{}, dir, 1, []string{file})
	if err == nil || !strings.Contains(err.Error(), "coldstart.patch-event.ratio_vs_hellosdk") || strings.Contains(err.Error(), "put-event") {
		t.Fatalf("err = %v, want one naming patch-event's figures only", err)
	}
}

func TestArchOfReadsTheELFMachine(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	got, err := archOf(exe)
	if err != nil {
		t.Fatal(err)
	}
	if got != runtime.GOARCH {
		t.Errorf("archOf(the test binary) = %s, want %s", got, runtime.GOARCH)
	}
	if _, err := archOf(filepath.Join("testdata", "hello", "main.go")); err == nil {
		t.Error("archOf(a Go source file) = nil error, want one")
	}
}

func TestSummaryRefusesMissingFigures(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "put-event"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "put-event", "bootstrap"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "bench.txt")
	if err := os.WriteFile(file, []byte("BenchmarkPut/single-2 20 1 ns/op 7.000 WCU/event\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := summary(&strings.Builder{}, dir, 1, []string{file})
	if err == nil || !strings.Contains(err.Error(), "put.batch25.wcu_per_event") {
		t.Fatalf("err = %v, want one naming the missing figures", err)
	}
}
