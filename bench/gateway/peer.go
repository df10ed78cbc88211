package main

import (
	"log"
	"net"
	"os"
	"os/signal"
	"syscall"
)

// servePeer runs a hand-written bench peer (go-floor, go-strict) on addr:
// each accepted connection goes to serve on its own goroutine, and
// SIGINT or SIGTERM writes the profiles (suffix names them) and exits.
func servePeer(addr, profileSuffix string, serve func(net.Conn)) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Fatal(err)
	}
	stopProfiles := startProfiles(profileSuffix)
	go func() {
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
		<-sigs
		stopProfiles()
		os.Exit(0)
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			log.Fatal(err)
		}
		go serve(c)
	}
}
