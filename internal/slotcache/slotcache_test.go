package slotcache

import (
	"strconv"
	"sync"
	"testing"
)

func TestCache(t *testing.T) {
	c := New[string, int](64)
	if _, ok := c.Get("a"); ok {
		t.Fatal("hit in an empty cache")
	}
	c.Put("a", 1)
	if v, ok := c.Get("a"); !ok || v != 1 {
		t.Fatalf("Get(a) = %d, %v", v, ok)
	}
	// Many more keys than slots: every hit must be the value stored for that very key.
	for i := range 1000 {
		c.Put(strconv.Itoa(i), i)
	}
	hits := 0
	for i := range 1000 {
		if v, ok := c.Get(strconv.Itoa(i)); ok {
			hits++
			if v != i {
				t.Fatalf("Get(%d) = %d", i, v)
			}
		}
	}
	if hits == 0 || hits > 64 {
		t.Fatalf("%d hits for 64 slots", hits)
	}
}

func TestCacheConcurrent(t *testing.T) {
	c := New[int, int](16)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 10000 {
				k := (i + g) % 100
				c.Put(k, k*2)
				if v, ok := c.Get(k); ok && v != k*2 {
					t.Errorf("Get(%d) = %d", k, v)
					return
				}
			}
		}()
	}
	wg.Wait()
}
