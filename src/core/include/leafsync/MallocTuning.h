#pragma once

// glibc malloc settings that keep freed memory from staying in a service's RSS. Both
// services call mapLargeBlocks() before any thread starts, except the consumer under a memory
// budget, which instead limitMallocArenas() and, every half second, releaseFreeMemory().

namespace leafsync {

// glibc raises its mmap threshold to the size of each large block freed (up to 32 MiB), so
// after one large response every later one comes from the heap and stays in the RSS once
// freed; a fixed threshold keeps blocks of a quarter MiB or more (images, pages of them) in
// their own mappings, returned whole when freed.
void mapLargeBlocks();

// glibc keeps one arena per thread that ever allocated (up to 8 per core), and each keeps
// what it freed: with an applier thread per partition, freed batches would stay in the RSS.
void limitMallocArenas();

// Gives the pages malloc holds free back to the system.
void releaseFreeMemory();

}  // namespace leafsync
