// loadgen: an open-loop HTTPS load generator for pullpass's /mutate (standard library only).
//
// wrk is closed-loop: a slow answer delays the next request and hides latency (coordinated
// omission). loadgen instead schedules request i at start + i/rate whatever happened before, and
// measures each latency from that intended start, so a stall shows up in the percentiles.
//
//	go build -o /tmp/loadgen . && /tmp/loadgen -url https://127.0.0.1:8443/mutate \
//	    -ca ca.crt -rate 500 -duration 30s review-*.json
//
// It prints one JSON object: sent, ok, errors, by status, client-side p50/p99/max (ms).
package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"sync"
	"time"
)

type result struct {
	latency time.Duration
	status  int
	err     bool
}

func main() {
	url := flag.String("url", "https://127.0.0.1:8443/mutate", "target URL")
	caFile := flag.String("ca", "", "CA certificate (PEM) that signed the server's certificate")
	rate := flag.Float64("rate", 500, "requests per second, scheduled open-loop")
	duration := flag.Duration("duration", 10*time.Second, "how long to send (ignored with -count)")
	count := flag.Int("count", 0, "send exactly this many requests (0: use -duration)")
	conns := flag.Int("conns", 64, "at most this many requests in flight (keep-alive connections)")
	timeout := flag.Duration("timeout", 10*time.Second, "per-request timeout")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "loadgen: name one or more AdmissionReview files")
		os.Exit(2)
	}
	var bodies [][]byte
	for _, path := range flag.Args() {
		b, err := os.ReadFile(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, "loadgen:", err)
			os.Exit(2)
		}
		bodies = append(bodies, b)
	}
	pool := x509.NewCertPool()
	if *caFile != "" {
		pem, err := os.ReadFile(*caFile)
		if err != nil || !pool.AppendCertsFromPEM(pem) {
			fmt.Fprintln(os.Stderr, "loadgen: cannot read CA", *caFile)
			os.Exit(2)
		}
	}
	client := &http.Client{
		Timeout: *timeout,
		Transport: &http.Transport{
			TLSClientConfig:     &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
			MaxIdleConns:        *conns,
			MaxIdleConnsPerHost: *conns,
			MaxConnsPerHost:     *conns,
			ForceAttemptHTTP2:   false,
		},
	}
	total := *count
	if total == 0 {
		total = int(*rate * duration.Seconds())
	}
	interval := time.Duration(float64(time.Second) / *rate)
	results := make([]result, total)
	slots := make(chan struct{}, *conns)
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < total; i++ {
		due := start.Add(time.Duration(i) * interval)
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		}
		slots <- struct{}{}
		wg.Add(1)
		go func(i int, due time.Time) {
			defer func() { <-slots; wg.Done() }()
			req, _ := http.NewRequest("POST", *url, bytes.NewReader(bodies[i%len(bodies)]))
			req.Header.Set("Content-Type", "application/json")
			resp, err := client.Do(req)
			if err != nil {
				results[i] = result{latency: time.Since(due), err: true}
				return
			}
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			results[i] = result{latency: time.Since(due), status: resp.StatusCode, err: err != nil}
		}(i, due)
	}
	wg.Wait()
	elapsed := time.Since(start)
	lat := make([]float64, 0, total)
	statuses := map[string]int{}
	ok, errors := 0, 0
	for _, r := range results {
		lat = append(lat, float64(r.latency)/float64(time.Millisecond))
		if r.err {
			errors++
			continue
		}
		statuses[fmt.Sprint(r.status)]++
		if r.status == http.StatusOK {
			ok++
		}
	}
	sort.Float64s(lat)
	pct := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(p*float64(len(lat))))]
	}
	out, _ := json.Marshal(map[string]any{
		"sent": total, "ok": ok, "errors": errors, "statuses": statuses,
		"seconds": elapsed.Seconds(), "achieved_rate": float64(total) / elapsed.Seconds(),
		"p50_ms": pct(0.50), "p99_ms": pct(0.99), "p999_ms": pct(0.999), "max_ms": pct(1),
	})
	fmt.Println(string(out))
}
