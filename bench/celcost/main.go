// Command celcost measures pullpass's policy-mode CEL in process, with kube-apiserver's own CEL
// environment (k8s.io/apiserver's base environment: its libraries, cost tracking and
// optimisations), step by step: no API server, no pod conversion, no patch pipeline.
//
// stdin: {"object": pod, "params": spec, "steps": [[name, expression], ...]}. Each step is one
// program; its result is stored as variables.<name> for the later ones, as the API server's
// composition does. Prints each step's µs and allocations per evaluation.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"testing"

	"github.com/google/cel-go/cel"
	"k8s.io/apiserver/pkg/cel/environment"
)

type input struct {
	Object map[string]any `json:"object"`
	Params map[string]any `json:"params"`
	Steps  [][2]string    `json:"steps"`
}

func main() {
	var in input
	if err := json.NewDecoder(os.Stdin).Decode(&in); err != nil {
		fmt.Fprintln(os.Stderr, "celcost: stdin:", err)
		os.Exit(2)
	}
	base := environment.MustBaseEnvSet(environment.DefaultCompatibilityVersion())
	env, err := base.StoredExpressionsEnv().Extend(
		cel.Variable("object", cel.DynType),
		cel.Variable("params", cel.DynType),
		cel.Variable("variables", cel.MapType(cel.StringType, cel.DynType)),
	)
	if err != nil {
		panic(err)
	}
	variables := map[string]any{}
	activation := map[string]any{
		"object": in.Object, "params": map[string]any{"spec": in.Params}, "variables": variables,
	}
	total := 0.0
	for _, step := range in.Steps {
		name, expression := step[0], step[1]
		ast, issues := env.Compile(expression)
		if issues.Err() != nil {
			fmt.Fprintf(os.Stderr, "celcost: %s: %v\n", name, issues.Err())
			os.Exit(2)
		}
		program, err := env.Program(ast, cel.InterruptCheckFrequency(100))
		if err != nil {
			panic(err)
		}
		out, _, err := program.ContextEval(context.Background(), activation)
		if err != nil {
			fmt.Fprintf(os.Stderr, "celcost: %s: %v\n", name, err)
			os.Exit(2)
		}
		result := testing.Benchmark(func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				_, _, _ = program.ContextEval(context.Background(), activation)
			}
		})
		micros := float64(result.NsPerOp()) / 1000
		total += micros
		fmt.Printf("| %s | %.1f | %d |\n", name, micros, result.AllocsPerOp())
		variables[name] = out.Value()
	}
	fmt.Printf("| total | %.1f | |\n", total)
}
