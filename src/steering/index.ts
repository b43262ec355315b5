// Flow steering: one declarative configuration (default RSS, RSS contexts, ordered flow rules)
// with a reference classifier and back ends for taps (eBPF, tc) and NICs (ethtool).
export {
  type Classifier,
  classifier,
  type Explanation,
  explain,
  type FrameFacts,
  frameFacts,
  ruleMatches,
} from './classifier.ts'
export { EbpfSteering, type EbpfSteeringOptions, type SteeringTarget, type TraceRecord } from './ebpf.ts'
export {
  applyEthtoolSteering,
  type EthtoolSteeringResult,
  encodeNtuple,
  FLOW_EXT,
  FLOW_RSS,
  FlowType,
  type NtupleRule,
  ntupleRules,
} from './ethtool.ts'
export {
  contextConfig,
  ETHER_TYPES,
  type EtherTypeName,
  type FlowAction,
  type FlowActionInput,
  type FlowMatch,
  type FlowMatchInput,
  type FlowRule,
  type FlowRuleInput,
  IP_PROTOCOLS,
  type IpProtocolName,
  MAX_CONTEXT_ID,
  MAX_RULES,
  MAX_TABLE_LENGTH,
  type PortMatch,
  type PortMatchInput,
  type Prefix,
  parsePrefixText,
  parseSteeringConfig,
  type RssContext,
  type RssContextInput,
  type SteeringConfig,
  SteeringConfigError,
  type SteeringConfigInput,
  type SteeringIssue,
  type SteeringLimits,
} from './model.ts'
export { type TcPlan, type TcPlanOptions, type TcProgramRef, TcSteering, tcPlan } from './tc.ts'
