//go:build race

package server_test

// raceDetector: allocation counts differ under -race.
const raceDetector = true
