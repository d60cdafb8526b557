package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
)

// install is what the chart's DaemonSet runs on each node: it places this binary in the
// kubelet's credential provider directory, writes the settings file the plugin reads at each run
// and the kubelet's CredentialProviderConfig, then waits, so that a rollout places a new version.
func install(args []string) error {
	var s settings
	var binDir, configDir, caFrom, providerConfig string
	flags := flag.NewFlagSet("install", flag.ContinueOnError)
	flags.StringVar(&binDir, "bin-dir", "", "host directory of --image-credential-provider-bin-dir")
	flags.StringVar(&configDir, "config-dir", "", "host directory for the settings, the CA and the CredentialProviderConfig")
	flags.StringVar(&caFrom, "ca-from", "", "CA bundle of pullpass's serving certificate, copied into --config-dir")
	flags.StringVar(&providerConfig, "provider-config", "", "the CredentialProviderConfig to place in --config-dir")
	flags.StringVar(&s.URL, "url", "", "pullpass's credentials URL")
	flags.StringVar(&s.ServerName, "server-name", "", "name pullpass's certificate carries")
	flags.StringVar(&s.CertFile, "cert-file", "", "the kubelet's client certificate on the host")
	flags.StringVar(&s.KeyFile, "key-file", "", "its key on the host")
	flags.Float64Var(&s.Timeout, "timeout", 3, "seconds for the whole exchange")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if binDir == "" || configDir == "" || caFrom == "" || providerConfig == "" || s.URL == "" {
		return errors.New("install: --bin-dir, --config-dir, --ca-from, --provider-config and --url are required")
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	s.CAFile = filepath.Join(configDir, "pullpass-ca.crt")
	settingsJSON, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	steps := []struct {
		from, to string
		data     []byte
		mode     os.FileMode
	}{
		{from: self, to: filepath.Join(binDir, "pullpass-credential-provider"), mode: 0o755},
		{from: caFrom, to: s.CAFile, mode: 0o644},
		{data: settingsJSON, to: filepath.Join(configDir, "pullpass-credential-provider.json"), mode: 0o644},
		{from: providerConfig, to: filepath.Join(configDir, "credential-provider-config.yaml"), mode: 0o644},
	}
	for _, step := range steps {
		data := step.data
		if data == nil {
			if data, err = os.ReadFile(step.from); err != nil {
				return err
			}
		}
		if err := place(step.to, data, step.mode); err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "pullpass-credential-provider: installed in %s and %s\n", binDir, configDir)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	<-stop
	return nil
}

// place writes through a temporary file and a rename, so the kubelet never execs or reads a
// half-written file.
func place(path string, data []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".pullpass-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
