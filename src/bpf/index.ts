// eBPF: a typed assembler, the program loader and maps. Used by the tc bpf filter/action code
// and by the tun/tap steering programs.
export * from './asm.ts'
/** bpffs: where pinned maps live across processes. */
export { BPFFS, ensureBpffs } from './bpffs.ts'
export {
  BpfError,
  type BpfErrorKind,
  type BpfErrorReason,
  type BpfObjectKind,
  BpfVerifierError,
  type InputIssue,
} from './errors.ts'
export {
  BpfMap,
  type CreateMapOptions,
  MapFlag,
  type MapFlagName,
  type MapInfo,
  MapType,
  type MapTypeName,
  UpdateFlag,
  type UpdateMode,
} from './map.ts'
export {
  BpfProgram,
  bpfObjectName,
  type LoadProgramOptions,
  loadProgram,
  type ProgramInfo,
  ProgramType,
  type ProgramTypeName,
  type TestRunResult,
} from './program.ts'
export { fdKind } from './sys.ts'
