#include "leafsync/MallocTuning.h"

#include <malloc.h>

namespace leafsync {

void mapLargeBlocks() { mallopt(M_MMAP_THRESHOLD, 256 * 1024); }

void limitMallocArenas() { mallopt(M_ARENA_MAX, 2); }

void releaseFreeMemory() { malloc_trim(0); }

}  // namespace leafsync
