// Command weft-go-peer is the Go peer of weft's benchmark suite.
//
// It runs one workload on the Go runtime with GOMAXPROCS set to the worker count and prints
// a single RESULT line to stdout, with the same command line and output as the Tokio peer
// (bench/peers/tokio) and weft-bench-peer. See README.md for the workload list.
package main

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// A workload: runs once and returns its number of operations.
type benchFn func() uint64

var benches = []struct {
	name string
	run  benchFn
}{
	{"spawn_join", benchSpawnJoin},
	{"pingpong", benchPingpong},
	{"mpsc", benchMpsc},
	{"mutex", benchMutex},
	{"semaphore", benchSemaphore},
}

// check ends the process with status 1 (as weft-bench-peer does) when a workload's result
// is wrong.
func check(ok bool, what string) {
	if !ok {
		fmt.Fprintf(os.Stderr, "check failed: %s\n", what)
		os.Exit(1)
	}
}

// spawn_join -------------------------------------------------------------------------------

const spawnJoinN = 1_000_000

// Go has no join handle: each goroutine writes its result into its own slot and one
// WaitGroup joins them all.
func benchSpawnJoin() uint64 {
	results := make([]uint64, spawnJoinN)
	var wg sync.WaitGroup
	wg.Add(spawnJoinN)
	for i := uint64(0); i < spawnJoinN; i++ {
		go func(i uint64) {
			results[i] = i & 7
			wg.Done()
		}(i)
	}
	wg.Wait()
	var sum uint64
	for _, v := range results {
		sum += v
	}
	// i & 7 cycles 0..=7 (sum 28) every 8 goroutines.
	check(sum == spawnJoinN/8*28, "spawn_join: wrong sum of results")
	return spawnJoinN
}

// pingpong ---------------------------------------------------------------------------------

const (
	pingPongPairs  = 1_000
	pingPongRounds = 100
)

// One ping: a value, a fresh one-value channel for the reply, and the fresh one-value
// channel that will carry the next ping (nil on the last round). The channels have room for
// one value, so a send never blocks, as a oneshot's does not.
type ping struct {
	val   uint64
	reply chan uint64
	next  chan ping
}

func pongSide(inbox chan ping) uint64 {
	var rounds uint64
	for {
		p := <-inbox
		p.reply <- p.val + 1
		rounds++
		if p.next == nil {
			return rounds
		}
		inbox = p.next
	}
}

func pingSide(first chan ping) uint64 {
	outbox := first
	var val uint64
	for r := uint64(0); r < pingPongRounds; r++ {
		reply := make(chan uint64, 1)
		var next chan ping
		if r+1 < pingPongRounds {
			next = make(chan ping, 1)
		}
		outbox <- ping{val: val, reply: reply, next: next}
		val = <-reply
		outbox = next
	}
	check(outbox == nil, "pingpong: outbox left over")
	return val
}

func benchPingpong() uint64 {
	pings := make([]uint64, pingPongPairs)
	pongs := make([]uint64, pingPongPairs)
	var wg sync.WaitGroup
	wg.Add(2 * pingPongPairs)
	for i := 0; i < pingPongPairs; i++ {
		first := make(chan ping, 1)
		go func(i int) {
			pongs[i] = pongSide(first)
			wg.Done()
		}(i)
		go func(i int) {
			pings[i] = pingSide(first)
			wg.Done()
		}(i)
	}
	wg.Wait()
	var rounds uint64
	for i := 0; i < pingPongPairs; i++ {
		check(pings[i] == pingPongRounds, "pingpong: wrong final value")
		rounds += pongs[i]
	}
	check(rounds == pingPongPairs*pingPongRounds, "pingpong: lost round trips")
	return rounds
}

// mpsc -------------------------------------------------------------------------------------

const (
	mpscProducers   = 4
	mpscPerProducer = 250_000
	mpscCapacity    = 1024
)

func benchMpsc() uint64 {
	const total = mpscProducers * mpscPerProducer
	ch := make(chan uint64, mpscCapacity)
	type tally struct{ count, sum uint64 }
	consumer := make(chan tally, 1)
	go func() {
		var t tally
		for v := range ch {
			t.count++
			t.sum += v
		}
		consumer <- t
	}()
	var wg sync.WaitGroup
	wg.Add(mpscProducers)
	for p := uint64(0); p < mpscProducers; p++ {
		go func(base uint64) {
			for i := uint64(0); i < mpscPerProducer; i++ {
				ch <- base + i
			}
			wg.Done()
		}(p * mpscPerProducer)
	}
	wg.Wait()
	close(ch) // the last sender gone, as when Tokio's last Sender drops
	t := <-consumer
	check(t.count == total, "mpsc: wrong number of messages")
	check(t.sum == total*(total-1)/2, "mpsc: lost or duplicated messages")
	return total
}

// mutex ------------------------------------------------------------------------------------

const (
	mutexTasks   = 100
	mutexPerTask = 10_000
)

func benchMutex() uint64 {
	var m sync.Mutex
	var counter uint64
	var wg sync.WaitGroup
	wg.Add(mutexTasks)
	for t := 0; t < mutexTasks; t++ {
		go func() {
			for i := 0; i < mutexPerTask; i++ {
				m.Lock()
				counter++
				m.Unlock()
			}
			wg.Done()
		}()
	}
	wg.Wait()
	m.Lock()
	total := counter
	m.Unlock()
	check(total == mutexTasks*mutexPerTask, "mutex: lost increments")
	return total
}

// semaphore --------------------------------------------------------------------------------

const (
	semPermits = 8
	semTasks   = 1_000
	semPerTask = 100
)

// The semaphore is a channel with room for semPermits values: a send acquires a permit (and
// waits while all are taken), a receive releases one.
func benchSemaphore() uint64 {
	sem := make(chan struct{}, semPermits)
	var holding, maxHolding atomic.Int64
	var ops atomic.Uint64
	var wg sync.WaitGroup
	wg.Add(semTasks)
	for t := 0; t < semTasks; t++ {
		go func() {
			for i := 0; i < semPerTask; i++ {
				sem <- struct{}{}
				now := holding.Add(1)
				for seen := maxHolding.Load(); now > seen; seen = maxHolding.Load() {
					if maxHolding.CompareAndSwap(seen, now) {
						break
					}
				}
				runtime.Gosched()
				holding.Add(-1)
				<-sem
			}
			ops.Add(semPerTask)
			wg.Done()
		}()
	}
	wg.Wait()
	most := maxHolding.Load()
	check(most >= 1 && most <= semPermits, fmt.Sprintf("semaphore: %d permits held at once", most))
	check(holding.Load() == 0 && len(sem) == 0, "semaphore: permits not all returned")
	check(ops.Load() == semTasks*semPerTask, "semaphore: ops lost")
	return ops.Load()
}

// driver -----------------------------------------------------------------------------------

func peakRSSKB() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return -1
	}
	return ru.Maxrss // kilobytes on Linux
}

const usage = "usage: weft-go-peer --bench NAME --workers N [--iters K]\n" +
	"       weft-go-peer --list"

func run(args []string) int {
	name, haveBench := "", false
	workers, iters := 0, 1
	for i := 0; i < len(args); i++ {
		arg := args[i]
		key, val, inline := arg, "", false
		if k, v, ok := strings.Cut(arg, "="); ok && strings.HasPrefix(k, "--") {
			key, val, inline = k, v, true
		}
		switch key {
		case "--list":
			for _, b := range benches {
				fmt.Println(b.name)
			}
			return 0
		case "-h", "--help":
			fmt.Println(usage)
			return 0
		case "--bench", "--workers", "--iters":
			if !inline {
				if i+1 >= len(args) {
					fmt.Fprintf(os.Stderr, "missing value for %s\n%s\n", key, usage)
					return 2
				}
				i++
				val = args[i]
			}
			if key == "--bench" {
				name, haveBench = val, true
				continue
			}
			n, err := strconv.Atoi(val)
			if err != nil || n <= 0 {
				fmt.Fprintf(os.Stderr, "invalid %s value: %s\n", key, val)
				return 2
			}
			if key == "--iters" {
				iters = n
			} else {
				workers = n
			}
		default:
			fmt.Fprintf(os.Stderr, "unknown argument: %s\n%s\n", arg, usage)
			return 2
		}
	}

	if !haveBench {
		fmt.Fprintf(os.Stderr, "missing --bench\n%s\n", usage)
		return 2
	}
	var work benchFn
	for _, b := range benches {
		if b.name == name {
			work = b.run
		}
	}
	if work == nil {
		fmt.Fprintf(os.Stderr, "unknown bench: %s (use --list)\n", name)
		return 2
	}
	if workers == 0 {
		workers = runtime.NumCPU()
	}
	runtime.GOMAXPROCS(workers)

	// --iters K: run the workload K times in this process and report the median wall time
	// (warm threads and heap, as the Tokio peer and weft-bench-peer do).
	walls := make([]time.Duration, 0, iters)
	var ops uint64
	for k := 0; k < iters; k++ {
		start := time.Now()
		ops = work()
		walls = append(walls, time.Since(start))
	}
	sort.Slice(walls, func(a, b int) bool { return walls[a] < walls[b] })
	wall := walls[len(walls)/2]
	rss := peakRSSKB()

	wallS := wall.Seconds()
	nsPerOp := 0.0
	if ops > 0 {
		nsPerOp = wallS * 1e9 / float64(ops)
	}
	fmt.Printf("RESULT impl=go bench=%s workers=%d ops=%d wall_s=%.6f ns_per_op=%.2f peak_rss_kb=%d\n",
		name, workers, ops, wallS, nsPerOp, rss)
	return 0
}

func main() {
	os.Exit(run(os.Args[1:]))
}
