Feature: Configuration keys
  The central system and the installer tune the offline behaviour through OCPP configuration keys
  (OCPP 1.6 §9.1, §9.2, errata E-3.82). AllowOfflineTxForUnknownId is false when the charger leaves
  the factory and is read-write. ChangeConfiguration (§5.3) answers NotSupported for a key the
  charger does not know, Rejected for a read-only key or a value that is malformed or out of range
  (and then nothing changes), Accepted otherwise; an accepted change is stored before the answer
  and survives a power cut. GetConfiguration (§5.8) without keys lists every key with its
  read-only flag; keys it does not know come back in unknownKey.

  Scenario: AllowOfflineTxForUnknownId is false and read-write by factory default
    Given the charger is online
    When the central system requests the whole configuration
    Then the configuration reported includes:
      | key                        | readonly | value |
      | AllowOfflineTxForUnknownId | false    | false |

  Scenario: The central system enables offline transactions for unknown id tags
    Given the charger is online
    When the central system changes "AllowOfflineTxForUnknownId" to "true"
    Then the charger answers "Accepted"
    And the configuration key "AllowOfflineTxForUnknownId" reads "true"

  @power
  Scenario: An accepted configuration change survives a power cycle
    Given the charger is online
    When the central system changes "AllowOfflineTxForUnknownId" to "true"
    Then the charger answers "Accepted"
    When the charger is power-cycled
    Then the charger is back online within 30 seconds
    And the configuration key "AllowOfflineTxForUnknownId" reads "true"

  Scenario: The installer's value is in force from the first boot
    Given the configuration key "AllowOfflineTxForUnknownId" is "true"
    And the charger is online
    Then the configuration key "AllowOfflineTxForUnknownId" reads "true"

  Scenario: Boolean values are accepted in any letter case
    Given the charger is online
    When the central system changes "AllowOfflineTxForUnknownId" to "TRUE"
    Then the charger answers "Accepted"
    And the configuration key "AllowOfflineTxForUnknownId" reads "true"

  Scenario Outline: A malformed value "<value>" for <key> is rejected and changes nothing
    Given the charger is online
    When the central system changes "<key>" to "<value>"
    Then the charger answers "Rejected"
    And the configuration key "<key>" reads "<unchanged>"

    Examples:
      | key                        | value | unchanged |
      | AllowOfflineTxForUnknownId | maybe | false     |
      | StopTransactionOnInvalidId | 1     | true      |
      | LocalAuthorizeOffline      | yes   | true      |

  Scenario Outline: A negative <key> is rejected
    Given the charger is online
    When the central system changes "<key>" to "-5"
    Then the charger answers "Rejected"

    Examples:
      | key                             |
      | HeartbeatInterval               |
      | MeterValueSampleInterval        |
      | TransactionMessageRetryInterval |
      | ConnectionTimeOut               |

  Scenario Outline: The read-only key <key> cannot be changed
    Given the charger is online
    When the central system changes "<key>" to "<value>"
    Then the charger answers "Rejected"

    Examples:
      | key                      | value |
      | NumberOfConnectors       | 2     |
      | GetConfigurationMaxKeys  | 99    |
      | SupportedFeatureProfiles | Core  |
      | LocalAuthListMaxLength   | 5     |

  Scenario: A key the charger does not know is not supported
    Given the charger is online
    When the central system changes "FreeBeerForEveryone" to "true"
    Then the charger answers "NotSupported"

  # AuthorizeRemoteTxRequests may be R or RW (§9.1.3): an empty cell is not checked.
  Scenario: The whole configuration lists every required key with its read-only flag
    Given the charger is online
    When the central system requests the whole configuration
    Then the configuration reported includes:
      | key                               | readonly | value |
      | AllowOfflineTxForUnknownId        | false    | false |
      | AuthorizationCacheEnabled         | false    | true  |
      | AuthorizeRemoteTxRequests         |          |       |
      | ClockAlignedDataInterval          | false    |       |
      | ConnectionTimeOut                 | false    |       |
      | ConnectorPhaseRotation            | false    |       |
      | GetConfigurationMaxKeys           | true     |       |
      | HeartbeatInterval                 | false    |       |
      | LocalAuthorizeOffline             | false    | true  |
      | LocalPreAuthorize                 | false    | false |
      | MaxEnergyOnInvalidId              | false    |       |
      | MessageTimeout                    | false    |       |
      | MeterValuesAlignedData            | false    |       |
      | MeterValuesSampledData            | false    |       |
      | MeterValueSampleInterval          | false    |       |
      | MinimumStatusDuration             | false    |       |
      | NumberOfConnectors                | true     | 1     |
      | ResetRetries                      | false    |       |
      | StopTransactionOnEVSideDisconnect | false    |       |
      | StopTransactionOnInvalidId        | false    | true  |
      | StopTxnAlignedData                | false    |       |
      | StopTxnSampledData                | false    |       |
      | SupportedFeatureProfiles          | true     |       |
      | TransactionMessageAttempts        | false    |       |
      | TransactionMessageRetryInterval   | false    |       |
      | UnlockConnectorOnEVSideDisconnect | false    |       |
      | WebSocketPingInterval             | false    |       |
      | LocalAuthListEnabled              | false    | true  |
      | LocalAuthListMaxLength            | true     |       |
      | SendLocalListMaxLength            | true     |       |

  Scenario: Keys the charger does not know are reported as unknown
    Given the charger is online
    When the central system requests the configuration keys "HeartbeatInterval, NoSuchKey"
    Then the configuration reported lists "NoSuchKey" as unknown
    And the configuration reported includes:
      | key               | readonly |
      | HeartbeatInterval | false    |
