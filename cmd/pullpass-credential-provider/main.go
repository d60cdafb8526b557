// Command pullpass-credential-provider is the kubelet's image credential provider for pullpass's
// secretless mode (credentialprovider.kubelet.k8s.io/v1).
//
// The kubelet runs it for each pull with a CredentialProviderRequest on stdin: the image and a
// ServiceAccount token bound to the pod. It forwards that request unchanged to pullpass's
// POST /credentials over TLS, presenting the kubelet's own client certificate so that pullpass
// knows which node asks, and writes pullpass's CredentialProviderResponse to stdout.
//
// It is a static binary with the standard library only: the kubelet execs it on hosts that may
// have nothing else. It fails within --timeout (3 s by default) when pullpass cannot be reached,
// since the kubelet waits for it on every pull. It never prints the token or the answer's logins.
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

const maxBody = 1 << 20

// settings say where pullpass is and how to prove the node's identity to it. Flags win over the
// --settings file, which the chart's DaemonSet writes (the Service's address may change; the
// kubelet reads its own CredentialProviderConfig only when it starts).
type settings struct {
	URL        string  `json:"url"`
	CAFile     string  `json:"caFile"`
	ServerName string  `json:"serverName"`
	CertFile   string  `json:"certFile"`
	KeyFile    string  `json:"keyFile"`
	Timeout    float64 `json:"timeoutSeconds"`
}

func main() {
	var err error
	if len(os.Args) > 1 && os.Args[1] == "install" {
		err = install(os.Args[2:])
	} else {
		err = run(os.Args[1:], os.Stdin, os.Stdout)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "pullpass-credential-provider: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string, in io.Reader, out io.Writer) error {
	s, err := parse(args)
	if err != nil {
		return err
	}
	request, err := io.ReadAll(io.LimitReader(in, maxBody))
	if err != nil {
		return fmt.Errorf("reading the request: %w", err)
	}
	client, err := s.client()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(s.Timeout*float64(time.Second)))
	defer cancel()
	post, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL, bytes.NewReader(request))
	if err != nil {
		return fmt.Errorf("--url: %w", err)
	}
	post.Header.Set("Content-Type", "application/json")
	answer, err := client.Do(post)
	if err != nil {
		return fmt.Errorf("pullpass unreachable: %w", err)
	}
	defer answer.Body.Close()
	body, err := io.ReadAll(io.LimitReader(answer.Body, maxBody))
	if err != nil {
		return fmt.Errorf("reading pullpass's answer: %w", err)
	}
	if answer.StatusCode != http.StatusOK {
		var refusal struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(body, &refusal)
		return fmt.Errorf("pullpass answered %d: %s", answer.StatusCode, refusal.Error)
	}
	_, err = out.Write(body)
	return err
}

func parse(args []string) (settings, error) {
	var s settings
	var file string
	flags := flag.NewFlagSet("pullpass-credential-provider", flag.ContinueOnError)
	flags.SetOutput(io.Discard)
	flags.StringVar(&file, "settings", "", "JSON file with url, caFile, serverName, certFile, keyFile, timeoutSeconds")
	flags.StringVar(&s.URL, "url", "", "pullpass's credentials URL, https://HOST:PORT/credentials")
	flags.StringVar(&s.CAFile, "ca-file", "", "CA bundle that signed pullpass's serving certificate")
	flags.StringVar(&s.ServerName, "server-name", "", "name pullpass's certificate must carry (default: the URL's host)")
	flags.StringVar(&s.CertFile, "cert-file", "", "the kubelet's client certificate (PEM)")
	flags.StringVar(&s.KeyFile, "key-file", "", "its key (PEM); may be the same file")
	flags.Float64Var(&s.Timeout, "timeout", 0, "seconds for the whole exchange (default 3)")
	if err := flags.Parse(args); err != nil {
		return s, err
	}
	if file != "" {
		var fromFile settings
		raw, err := os.ReadFile(file)
		if err != nil {
			return s, fmt.Errorf("--settings: %w", err)
		}
		if err := json.Unmarshal(raw, &fromFile); err != nil {
			return s, fmt.Errorf("--settings %s: %w", file, err)
		}
		s.fill(fromFile)
	}
	if s.Timeout <= 0 {
		s.Timeout = 3
	}
	if s.KeyFile == "" {
		s.KeyFile = s.CertFile
	}
	if s.URL == "" || s.CAFile == "" || s.CertFile == "" {
		return s, errors.New("--url, --ca-file and --cert-file are required (flags or --settings)")
	}
	return s, nil
}

// fill sets what the flags left empty.
func (s *settings) fill(from settings) {
	for _, pair := range []struct{ to, from *string }{
		{&s.URL, &from.URL}, {&s.CAFile, &from.CAFile}, {&s.ServerName, &from.ServerName},
		{&s.CertFile, &from.CertFile}, {&s.KeyFile, &from.KeyFile},
	} {
		if *pair.to == "" {
			*pair.to = *pair.from
		}
	}
	if s.Timeout <= 0 {
		s.Timeout = from.Timeout
	}
}

func (s settings) client() (*http.Client, error) {
	pem, err := os.ReadFile(s.CAFile)
	if err != nil {
		return nil, fmt.Errorf("--ca-file: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("--ca-file %s: no PEM certificate", s.CAFile)
	}
	// Read at each run: the kubelet rotates its client certificate in place.
	pair, err := tls.LoadX509KeyPair(s.CertFile, s.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("--cert-file/--key-file: %w", err)
	}
	config := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		RootCAs:      roots,
		ServerName:   s.ServerName,
		Certificates: []tls.Certificate{pair},
	}
	transport := &http.Transport{TLSClientConfig: config, Proxy: nil}
	return &http.Client{Transport: transport}, nil
}
