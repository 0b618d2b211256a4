/**
 * IPFIX information-element registry (IANA "IPFIX Information Elements", the common part).
 * NetFlow v9 field types 1-127 are the same numbers. No maintained npm package carries this
 * table (node-netflowv9 embeds its own decoder), so the elements Vantage meets in practice are
 * listed here; any other element is kept raw (hex) under "pen:id" or "ie<id>".
 */

export type IeType =
  | 'unsigned'
  | 'signed'
  | 'float'
  | 'ipv4'
  | 'ipv6'
  | 'mac'
  | 'dateTimeSeconds'
  | 'dateTimeMilliseconds'
  | 'dateTimeMicroseconds'
  | 'dateTimeNanoseconds'
  | 'string'
  | 'octets'
  | 'boolean';

export interface IeDef {
  readonly id: number;
  readonly name: string;
  readonly type: IeType;
}

/** PEN of RFC 5103 reverse elements. */
export const PEN_REVERSE = 29305;

const TABLE: [number, string, IeType][] = [
  [1, 'octetDeltaCount', 'unsigned'],
  [2, 'packetDeltaCount', 'unsigned'],
  [3, 'deltaFlowCount', 'unsigned'],
  [4, 'protocolIdentifier', 'unsigned'],
  [5, 'ipClassOfService', 'unsigned'],
  [6, 'tcpControlBits', 'unsigned'],
  [7, 'sourceTransportPort', 'unsigned'],
  [8, 'sourceIPv4Address', 'ipv4'],
  [9, 'sourceIPv4PrefixLength', 'unsigned'],
  [10, 'ingressInterface', 'unsigned'],
  [11, 'destinationTransportPort', 'unsigned'],
  [12, 'destinationIPv4Address', 'ipv4'],
  [13, 'destinationIPv4PrefixLength', 'unsigned'],
  [14, 'egressInterface', 'unsigned'],
  [15, 'ipNextHopIPv4Address', 'ipv4'],
  [16, 'bgpSourceAsNumber', 'unsigned'],
  [17, 'bgpDestinationAsNumber', 'unsigned'],
  [18, 'bgpNextHopIPv4Address', 'ipv4'],
  [19, 'postMCastPacketDeltaCount', 'unsigned'],
  [20, 'postMCastOctetDeltaCount', 'unsigned'],
  [21, 'flowEndSysUpTime', 'unsigned'],
  [22, 'flowStartSysUpTime', 'unsigned'],
  [23, 'postOctetDeltaCount', 'unsigned'],
  [24, 'postPacketDeltaCount', 'unsigned'],
  [25, 'minimumIpTotalLength', 'unsigned'],
  [26, 'maximumIpTotalLength', 'unsigned'],
  [27, 'sourceIPv6Address', 'ipv6'],
  [28, 'destinationIPv6Address', 'ipv6'],
  [29, 'sourceIPv6PrefixLength', 'unsigned'],
  [30, 'destinationIPv6PrefixLength', 'unsigned'],
  [31, 'flowLabelIPv6', 'unsigned'],
  [32, 'icmpTypeCodeIPv4', 'unsigned'],
  [33, 'igmpType', 'unsigned'],
  [34, 'samplingInterval', 'unsigned'],
  [35, 'samplingAlgorithm', 'unsigned'],
  [36, 'flowActiveTimeout', 'unsigned'],
  [37, 'flowIdleTimeout', 'unsigned'],
  [38, 'engineType', 'unsigned'],
  [39, 'engineId', 'unsigned'],
  [40, 'exportedOctetTotalCount', 'unsigned'],
  [41, 'exportedMessageTotalCount', 'unsigned'],
  [42, 'exportedFlowRecordTotalCount', 'unsigned'],
  [44, 'sourceIPv4Prefix', 'ipv4'],
  [45, 'destinationIPv4Prefix', 'ipv4'],
  [46, 'mplsTopLabelType', 'unsigned'],
  [47, 'mplsTopLabelIPv4Address', 'ipv4'],
  [48, 'samplerId', 'unsigned'],
  [49, 'samplerMode', 'unsigned'],
  [50, 'samplerRandomInterval', 'unsigned'],
  [51, 'classId', 'unsigned'],
  [52, 'minimumTTL', 'unsigned'],
  [53, 'maximumTTL', 'unsigned'],
  [54, 'fragmentIdentification', 'unsigned'],
  [55, 'postIpClassOfService', 'unsigned'],
  [56, 'sourceMacAddress', 'mac'],
  [57, 'postDestinationMacAddress', 'mac'],
  [58, 'vlanId', 'unsigned'],
  [59, 'postVlanId', 'unsigned'],
  [60, 'ipVersion', 'unsigned'],
  [61, 'flowDirection', 'unsigned'],
  [62, 'ipNextHopIPv6Address', 'ipv6'],
  [63, 'bgpNextHopIPv6Address', 'ipv6'],
  [64, 'ipv6ExtensionHeaders', 'unsigned'],
  [70, 'mplsTopLabelStackSection', 'octets'],
  [71, 'mplsLabelStackSection2', 'octets'],
  [72, 'mplsLabelStackSection3', 'octets'],
  [73, 'mplsLabelStackSection4', 'octets'],
  [74, 'mplsLabelStackSection5', 'octets'],
  [75, 'mplsLabelStackSection6', 'octets'],
  [80, 'destinationMacAddress', 'mac'],
  [81, 'postSourceMacAddress', 'mac'],
  [82, 'interfaceName', 'string'],
  [83, 'interfaceDescription', 'string'],
  [84, 'samplerName', 'string'],
  [85, 'octetTotalCount', 'unsigned'],
  [86, 'packetTotalCount', 'unsigned'],
  [88, 'fragmentOffset', 'unsigned'],
  [89, 'forwardingStatus', 'unsigned'],
  [90, 'mplsVpnRouteDistinguisher', 'octets'],
  [91, 'mplsTopLabelPrefixLength', 'unsigned'],
  [94, 'applicationDescription', 'string'],
  [95, 'applicationId', 'octets'],
  [96, 'applicationName', 'string'],
  [98, 'postIpDiffServCodePoint', 'unsigned'],
  [128, 'bgpNextAdjacentAsNumber', 'unsigned'],
  [129, 'bgpPrevAdjacentAsNumber', 'unsigned'],
  [130, 'exporterIPv4Address', 'ipv4'],
  [131, 'exporterIPv6Address', 'ipv6'],
  [132, 'droppedOctetDeltaCount', 'unsigned'],
  [133, 'droppedPacketDeltaCount', 'unsigned'],
  [136, 'flowEndReason', 'unsigned'],
  [137, 'commonPropertiesId', 'unsigned'],
  [138, 'observationPointId', 'unsigned'],
  [139, 'icmpTypeCodeIPv6', 'unsigned'],
  [140, 'mplsTopLabelIPv6Address', 'ipv6'],
  [144, 'exportingProcessId', 'unsigned'],
  [148, 'flowId', 'unsigned'],
  [149, 'observationDomainId', 'unsigned'],
  [150, 'flowStartSeconds', 'dateTimeSeconds'],
  [151, 'flowEndSeconds', 'dateTimeSeconds'],
  [152, 'flowStartMilliseconds', 'dateTimeMilliseconds'],
  [153, 'flowEndMilliseconds', 'dateTimeMilliseconds'],
  [154, 'flowStartMicroseconds', 'dateTimeMicroseconds'],
  [155, 'flowEndMicroseconds', 'dateTimeMicroseconds'],
  [156, 'flowStartNanoseconds', 'dateTimeNanoseconds'],
  [157, 'flowEndNanoseconds', 'dateTimeNanoseconds'],
  [158, 'flowStartDeltaMicroseconds', 'unsigned'],
  [159, 'flowEndDeltaMicroseconds', 'unsigned'],
  [160, 'systemInitTimeMilliseconds', 'dateTimeMilliseconds'],
  [161, 'flowDurationMilliseconds', 'unsigned'],
  [162, 'flowDurationMicroseconds', 'unsigned'],
  [176, 'icmpTypeIPv4', 'unsigned'],
  [177, 'icmpCodeIPv4', 'unsigned'],
  [178, 'icmpTypeIPv6', 'unsigned'],
  [179, 'icmpCodeIPv6', 'unsigned'],
  [180, 'udpSourcePort', 'unsigned'],
  [181, 'udpDestinationPort', 'unsigned'],
  [182, 'tcpSourcePort', 'unsigned'],
  [183, 'tcpDestinationPort', 'unsigned'],
  [192, 'ipTTL', 'unsigned'],
  [195, 'ipDiffServCodePoint', 'unsigned'],
  [197, 'fragmentFlags', 'unsigned'],
  [198, 'octetDeltaSumOfSquares', 'unsigned'],
  [210, 'paddingOctets', 'octets'],
  [225, 'postNATSourceIPv4Address', 'ipv4'],
  [226, 'postNATDestinationIPv4Address', 'ipv4'],
  [227, 'postNAPTSourceTransportPort', 'unsigned'],
  [228, 'postNAPTDestinationTransportPort', 'unsigned'],
  [234, 'ingressVRFID', 'unsigned'],
  [235, 'egressVRFID', 'unsigned'],
  [239, 'biflowDirection', 'unsigned'],
  [243, 'dot1qVlanId', 'unsigned'],
  [245, 'dot1qCustomerVlanId', 'unsigned'],
  [252, 'ingressPhysicalInterface', 'unsigned'],
  [253, 'egressPhysicalInterface', 'unsigned'],
  [254, 'postdot1qVlanId', 'unsigned'],
  [255, 'postdot1qCustomerVlanId', 'unsigned'],
  [256, 'ethernetType', 'unsigned'],
  [302, 'selectorId', 'unsigned'],
  [303, 'informationElementId', 'unsigned'],
  [304, 'selectorAlgorithm', 'unsigned'],
  [305, 'samplingPacketInterval', 'unsigned'],
  [306, 'samplingPacketSpace', 'unsigned'],
  [307, 'samplingTimeInterval', 'unsigned'],
  [308, 'samplingTimeSpace', 'unsigned'],
  [309, 'samplingSize', 'unsigned'],
  [310, 'samplingPopulation', 'unsigned'],
  [311, 'samplingProbability', 'float'],
  [322, 'observationTimeSeconds', 'dateTimeSeconds'],
  [323, 'observationTimeMilliseconds', 'dateTimeMilliseconds'],
  [324, 'observationTimeMicroseconds', 'dateTimeMicroseconds'],
  [325, 'observationTimeNanoseconds', 'dateTimeNanoseconds'],
  [335, 'selectorName', 'string'],
  [346, 'privateEnterpriseNumber', 'unsigned'],
  [352, 'layer2OctetDeltaCount', 'unsigned'],
  [361, 'portRangeStart', 'unsigned'],
  [362, 'portRangeEnd', 'unsigned'],
  [368, 'ingressInterfaceType', 'unsigned'],
  [369, 'egressInterfaceType', 'unsigned'],
  [458, 'sourceTransportPortsLimit', 'unsigned'],
];

const BY_ID: (IeDef | undefined)[] = [];
for (const [id, name, type] of TABLE) BY_ID[id] = { id, name, type };

/** The definition of an IANA element (enterprise 0), or undefined when not in the table. */
export function ieDef(id: number): IeDef | undefined {
  return BY_ID[id];
}

/** Every element in the table (for documentation and tests). */
export function ieList(): readonly IeDef[] {
  return BY_ID.filter((d): d is IeDef => d !== undefined);
}
