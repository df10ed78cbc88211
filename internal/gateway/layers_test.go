package gateway

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sync/atomic"
	"testing"
)

// chainTypes lists a chain's layers from the outside in.
func chainTypes(l layer) []string {
	var out []string
	for l != nil {
		out = append(out, reflect.TypeOf(l).Elem().Name())
		v := reflect.ValueOf(l).Elem()
		f := v.FieldByName("next")
		if !f.IsValid() || f.IsNil() {
			break
		}
		l = reflect.NewAt(f.Type(), f.Addr().UnsafePointer()).Elem().Interface().(layer)
	}
	return out
}

func TestLayerOrder(t *testing.T) {
	o := newEcho(t)
	h := newHarness(t, gatewayYAML(o.URL, `      basic_auth: user:pass
      max_connections: 2
      beta_health:
        interval: 1h
      throttle:
        period: 1s
        per_period: 100
`, "    - path: /x\n      proxy:\n        backend: api\n"))
	bv := h.gw.views["api"]
	bv.validator = nil
	got := fmt.Sprint(chainTypes(h.gw.buildLayers(bv)))
	want := "[gateLayer modifyLayer throttleLayer slotLayer authLayer originLayer sendLayer]"
	if got != want {
		t.Fatalf("layers = %s, want %s", got, want)
	}
	bv.validator = refuseAll{}
	got = fmt.Sprint(chainTypes(h.gw.buildLayers(bv)))
	want = "[gateLayer modifyLayer throttleLayer slotLayer authLayer validateLayer originLayer sendLayer]"
	if got != want {
		t.Fatalf("layers = %s, want %s", got, want)
	}
}

func TestLayerOrderPlainBackend(t *testing.T) {
	o := newEcho(t)
	h := newHarness(t, gatewayYAML(o.URL, "", "    - path: /x\n      proxy:\n        backend: api\n"))
	got := fmt.Sprint(chainTypes(h.gw.views["api"].chain))
	if want := "[modifyLayer throttleLayer slotLayer originLayer sendLayer]"; got != want {
		t.Fatalf("layers = %s, want %s", got, want)
	}
}

func TestExchangeDoneRunsCleanupsOnceInReverse(t *testing.T) {
	var ex exchange
	var order []int
	ex.onDone(func() { order = append(order, 1) })
	ex.onDone(func() { order = append(order, 2) })
	ex.done()
	ex.done()
	if fmt.Sprint(order) != "[2 1]" {
		t.Fatalf("cleanups ran %v", order)
	}
}

// refuseAll is a validator that refuses every request.
type refuseAll struct{}

func (refuseAll) request(*call, *http.Request) *gatewayError {
	return newError(kindClientRequest, errors.New("refused by the test validator"))
}
func (refuseAll) response(*call, *http.Response) *gatewayError { return nil }

// refuseResponses is a validator that refuses every response.
type refuseResponses struct{}

func (refuseResponses) request(*call, *http.Request) *gatewayError { return nil }
func (refuseResponses) response(*call, *http.Response) *gatewayError {
	return newError(kindBackend, errors.New("response refused by the test validator"))
}

// TestValidatorExtensionPoint: a validator set on a backend view refuses
// requests before anything is sent and replaces refused responses; the
// slot is free again either way.
func TestValidatorExtensionPoint(t *testing.T) {
	var hits atomic.Int64
	o := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	t.Cleanup(o.Close)
	h := newHarness(t, gatewayYAML(o.URL, "      max_connections: 1\n", "    - path: /x\n      proxy:\n        backend: api\n"))
	bv := h.gw.views["api"]
	for _, tc := range []struct {
		v        validator
		status   int
		wantHits int64
	}{{refuseAll{}, 400, 0}, {refuseResponses{}, 502, 1}, {nil, 200, 2}} {
		bv.validator = tc.v
		bv.chain = h.gw.buildLayers(bv)
		resp, body := h.do(http.MethodGet, "/x", nil, nil)
		if resp.StatusCode != tc.status || hits.Load() != tc.wantHits {
			t.Fatalf("%T: status %d (%s), origin hits %d", tc.v, resp.StatusCode, body, hits.Load())
		}
		if n := bv.rt.inFlight.Load(); n != 0 {
			t.Fatalf("%T: %d requests still in flight", tc.v, n)
		}
	}
}
