import { MemoryTraceBuffer } from '../../src/buffer/memory/memory-trace-buffer.js';
import { describeTraceBufferContract } from './trace-buffer-contract.js';

describeTraceBufferContract('memory', async (settings) => new MemoryTraceBuffer(settings));
