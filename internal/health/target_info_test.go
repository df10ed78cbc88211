package health

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/backline/backline/internal/probe"
)

// A snapshot names an http check's expectation and header names, never a
// header value: X-Api-Key or Authorization may carry a credential.
func TestInfoOfHTTPExpectation(t *testing.T) {
	tg := &probe.Target{Protocol: "http", Host: "h", Port: 80, RequestURI: "/healthz",
		HTTP: &probe.HTTPExpect{Path: "/healthz", Statuses: []int{200, 503}, Text: "ok",
			Headers: map[string]string{"x-api-key": "k3y-s3cret", "Host": "web.example.org"}}}
	info := InfoOf(tg)
	if !reflect.DeepEqual(info.ExpectedStatus, []int{200, 503}) || info.ExpectedText != "ok" ||
		!reflect.DeepEqual(info.HeaderNames, []string{"Host", "X-Api-Key"}) {
		t.Errorf("info = %+v", info)
	}
	tg.HTTP.Statuses[0] = 500
	if info.ExpectedStatus[0] != 200 {
		t.Error("ExpectedStatus shares the probe target's slice")
	}
	if strings.Contains(fmt.Sprintf("%+v", *info), "k3y-s3cret") {
		t.Error("header value copied into the snapshot")
	}
	if info := InfoOf(&probe.Target{Protocol: "smtp", Host: "h", Port: 25, HeloName: "[192.0.2.1]"}); info.HeloName != "[192.0.2.1]" || info.ExpectedStatus != nil {
		t.Errorf("smtp info = %+v", info)
	}
}
