package main

import (
	"fmt"
	"os"
	"path/filepath"
)

// originConf serves the bodies from files; a POST to a static file gets
// 405, turned into the file's 200 after nginx has read the body.
const originConf = `worker_processes 1;
daemon off;
pid %[1]s/origin.pid;
error_log %[1]s/origin-error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path %[1]s/origin-body;
  client_body_buffer_size 64k;
  keepalive_requests 1000000;
  default_type text/plain;
  server {
    listen %[2]s;
    root %[1]s/www;
    error_page 405 =200 $uri;
  }
}
`

const nginxProxyConf = `worker_processes 1;
daemon off;
pid %[1]s/%[4]s.pid;
error_log %[1]s/%[4]s-error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path %[1]s/%[4]s-body;
  proxy_temp_path %[1]s/%[4]s-proxy;
  keepalive_requests 1000000;
  upstream origin { server %[2]s; keepalive 64; keepalive_requests 1000000; }
  server {
    listen %[3]s;
    client_body_buffer_size 64k;
    location / {
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      %[5]s
    }
  }
}
`

const haproxyConf = `global
  nbthread 1
  maxconn 4096
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  http-reuse always
frontend fe
  bind %[2]s
  default_backend be
backend be
  server origin %[1]s
`

func startOrigin(o options, dir string) string {
	www := filepath.Join(dir, "www")
	if err := os.MkdirAll(www, 0o755); err != nil {
		fatalf("%v", err)
	}
	for name, size := range map[string]int{"22": 22, "64k": 64 << 10, "1m": 1 << 20} {
		body := make([]byte, size)
		for i := range body {
			body[i] = 'a' + byte(i%26)
		}
		if size == 22 {
			body = []byte("hello from the origin\n")
		}
		if err := os.WriteFile(filepath.Join(www, name), body, 0o644); err != nil {
			fatalf("%v", err)
		}
	}
	addr := freeLoopbackPort()
	conf := filepath.Join(dir, "origin.conf")
	writeFile(conf, fmt.Sprintf(originConf, dir, addr))
	// The origin is not pinned: it is the same for every proxy.
	p := startProcess(-1, filepath.Join(dir, "origin.log"), o.nginx, "-p", dir, "-c", conf)
	waitListening(addr, p)
	return addr
}

func startNginxProxy(o options, dir, name, origin, extra string) proxy {
	addr := freeLoopbackPort()
	conf := filepath.Join(dir, name+".conf")
	writeFile(conf, fmt.Sprintf(nginxProxyConf, dir, origin, addr, name, extra))
	p := startProcess(o.serverCPU, filepath.Join(dir, name+".log"), o.nginx, "-p", dir, "-c", conf)
	return proxy{name: name, addr: addr, proc: p}
}

func startHAProxy(o options, dir, origin string) proxy {
	addr := freeLoopbackPort()
	conf := filepath.Join(dir, "haproxy.cfg")
	writeFile(conf, fmt.Sprintf(haproxyConf, origin, addr))
	p := startProcess(o.serverCPU, filepath.Join(dir, "haproxy.log"), o.haproxy, "-db", "-f", conf)
	return proxy{name: "haproxy", addr: addr, proc: p}
}

func writeFile(path, text string) {
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		fatalf("%v", err)
	}
}
