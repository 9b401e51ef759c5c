Feature: OCA compliance test tool (OCTT) charge-point cases
  One scenario per OCTT OCPP 1.6 charge-point test case in the areas this product claims that the
  rest of the catalogue did not cover (issue 14); each names its case and the OCPP 1.6 section it
  checks. features/README.md maps every OCTT case to its scenario. Statuses are checked in
  order with others allowed between them (§4.9 with errata v4 3.19: every status that held is
  reported).

  Background:
    Given the central system knows these id tags:
      | id tag   | status   |
      | 04A1B2C3 | Accepted |
      | 04BAD001 | Invalid  |
      | 04B10C4D | Blocked  |
      | 04E59001 | Expired  |

  Scenario: TC_001 Cold boot: heartbeats at the BootNotification interval (§4.2, §4.6)
    Given the central system's heartbeat interval is 3 seconds
    And the charger is online
    Then the central system receives a Heartbeat within 6 seconds
    And the central system receives a Heartbeat within 6 seconds

  Scenario: TC_003 Regular charging session, plug-in first: the status sequence (§4.9, §3.4)
    Given the charger is online
    When the EV is plugged in
    And the card "04A1B2C3" is presented
    And the EV asks for charge
    Then charging starts within 5 seconds
    When the card "04A1B2C3" is presented
    Then charging stops within 5 seconds
    When the EV is unplugged
    Then the central system receives these StatusNotifications for connector 1 in order:
      | status    |
      | Preparing |
      | Charging  |
      | Finishing |
      | Available |
    And the central system receives a StopTransaction with reason "Local" within 5 seconds

  Scenario: TC_004_1 Regular charging session, identification first: the status sequence (§4.9, §3.4)
    Given the charger is online
    When the card "04A1B2C3" is presented
    Then the central system receives an Authorize for "04A1B2C3" within 5 seconds
    When the EV is plugged in
    And the EV asks for charge
    Then charging starts within 5 seconds
    And the central system receives these StatusNotifications for connector 1 in order:
      | status    |
      | Preparing |
      | Charging  |

  Scenario: TC_005_1 EV-side disconnect stops the transaction and unlocks the connector (§3.x EV side disconnect, §9.1.26, §9.1.35)
    Given the charger is online
    When the EV is plugged in
    And the card "04A1B2C3" is presented
    And the EV asks for charge
    Then charging starts within 5 seconds
    When the EV is unplugged
    Then charging stops within 5 seconds
    And the central system receives a StopTransaction with reason "EVDisconnected" within 5 seconds
    And the connector is unlocked within 5 seconds
    And the central system receives these StatusNotifications for connector 1 in order:
      | status    |
      | Charging  |
      | Available |

  Scenario: TC_005_2 EV-side disconnect with StopTransactionOnEVSideDisconnect false suspends the transaction (§9.1.26)
    Given the configuration key "StopTransactionOnEVSideDisconnect" is "false"
    And the charger is online
    When the EV is plugged in
    And the card "04A1B2C3" is presented
    And the EV asks for charge
    Then charging starts within 5 seconds
    When the EV is unplugged
    Then charging stops within 5 seconds
    And the central system receives a StatusNotification "SuspendedEV" within 5 seconds
    And the central system receives no StopTransaction for 3 seconds
    And the connector stays locked
    When the EV is plugged in
    And the EV asks for charge
    Then charging starts within 5 seconds
    When the card "04A1B2C3" is presented
    Then the central system receives a StopTransaction with reason "Local" within 5 seconds
    And every transaction is reported exactly once

  Scenario: TC_005_3 EV-side disconnect with UnlockConnectorOnEVSideDisconnect false keeps the cable locked (§9.1.35)
    Given the configuration key "UnlockConnectorOnEVSideDisconnect" is "false"
    And the charger is online
    When the EV is plugged in
    And the card "04A1B2C3" is presented
    And the EV asks for charge
    Then charging starts within 5 seconds
    When the EV is unplugged
    Then the central system receives a StopTransaction with reason "EVDisconnected" within 5 seconds
    And the connector stays locked
    When the card "04A1B2C3" is presented
    Then the connector is unlocked within 5 seconds

  Scenario: TC_007 Regular start with a cached id: LocalPreAuthorize starts without an Authorize (§3.5.1, §9.1.19)
    Given the configuration key "LocalPreAuthorize" is "true"
    And the card "04A1B2C3" has charged here while online
    When the EV is plugged in
    And the card "04A1B2C3" is presented
    And the EV asks for charge
    Then charging starts within 5 seconds
    And the central system receives a StartTransaction for "04A1B2C3" within 5 seconds
    And the central system receives no Authorize for 2 seconds

  Scenario: TC_010 Remote start with the cable plugged in first (§5.11, §4.9)
    Given the charger is online
    When the EV is plugged in
    And the central system remote-starts a transaction for "04A1B2C3"
    Then the charger answers "Accepted"
    When the EV asks for charge
    Then charging starts within 5 seconds
    And the central system receives a StartTransaction for "04A1B2C3" within 5 seconds

  Scenario: TC_011_1 Remote start first, then the cable (§5.11)
    Given the charger is online
    When the central system remote-starts a transaction for "04A1B2C3"
    Then the charger answers "Accepted"
    And the central system receives a StatusNotification "Preparing" within 5 seconds
    When the EV is plugged in
    And the EV asks for charge
    Then charging starts within 5 seconds
    And the central system receives a StartTransaction for "04A1B2C3" within 5 seconds

  Scenario: TC_011_2 Remote start times out after ConnectionTimeOut without a cable (§5.11, §9.1.7)
    Given the configuration key "ConnectionTimeOut" is "3"
    And the charger is online
    When the central system remote-starts a transaction for "04A1B2C3"
    Then the charger answers "Accepted"
    And the central system receives these StatusNotifications for connector 1 in order:
      | status    |
      | Preparing |
      | Available |
    When the EV is plugged in
    Then charging does not start within 3 seconds
    And the central system has received exactly 0 StartTransaction

  Scenario: TC_013 Hard reset without a transaction: the charger reboots (§5.14, §4.2)
    Given the charger is online
    When the central system sends a "Hard" reset
    Then the charger answers "Accepted"
    And the central system receives a BootNotification within 30 seconds
    And the charger is back online within 30 seconds

  Scenario: TC_014 Soft reset without a transaction: the charger reboots (§5.14, §4.2)
    Given the charger is online
    When the central system sends a "Soft" reset
    Then the charger answers "Accepted"
    And the central system receives a BootNotification within 30 seconds
    And the charger is back online within 30 seconds

  Scenario Outline: <case> <kind> reset with a transaction: stopped with reason <reason>, then the reboot (§5.14, §6.50)
    Given the charger is online
    When the EV is plugged in
    And the card "04A1B2C3" is presented
    And the EV asks for charge
    Then charging starts within 5 seconds
    When the central system sends a "<kind>" reset
    Then the charger answers "Accepted"
    And charging stops within 10 seconds
    And the central system receives a StopTransaction with reason "<reason>" within 30 seconds
    And the central system receives a BootNotification within 30 seconds
    And every transaction is reported exactly once

    Examples:
      | case   | kind | reason    |
      | TC_015 | Hard | HardReset |
      | TC_016 | Soft | SoftReset |

  Scenario: TC_017 UnlockConnector without a session is Unlocked (§5.18)
    Given the charger is online
    When the central system unlocks connector 1
    Then the charger answers "Unlocked"
    And the connector is unlocked within 5 seconds

  Scenario: TC_018 UnlockConnector during a session stops it with reason UnlockCommand (§5.18, §6.50)
    Given the charger is online
    When the EV is plugged in
    And the card "04A1B2C3" is presented
    And the EV asks for charge
    Then charging starts within 5 seconds
    When the central system unlocks connector 1
    Then the charger answers "Unlocked"
    And charging stops within 5 seconds
    And the central system receives a StopTransaction with reason "UnlockCommand" within 5 seconds
    And the connector is unlocked within 5 seconds
    And every transaction is reported exactly once

  Scenario: TC_031 UnlockConnector for a connector that does not exist is NotSupported (§5.18)
    Given the charger is online
    When the central system unlocks connector 2
    Then the charger answers "NotSupported"

  Scenario Outline: TC_023 Authorize <status>: no transaction starts (§4.1, §3.5)
    Given the charger is online
    When the EV is plugged in
    And the card "<tag>" is presented
    Then the central system receives an Authorize for "<tag>" within 5 seconds
    When the EV asks for charge
    Then charging does not start within 3 seconds
    And the central system has received exactly 0 StartTransaction

    Examples:
      | tag      | status  |
      | 04BAD001 | Invalid |
      | 04B10C4D | Blocked |
      | 04E59001 | Expired |

  Scenario: TC_026 Remote start while a transaction runs is Rejected (§5.11)
    Given the charger is online
    When the EV is plugged in
    And the card "04A1B2C3" is presented
    And the EV asks for charge
    Then charging starts within 5 seconds
    When the central system remote-starts a transaction for "04A1B2C3"
    Then the charger answers "Rejected"
    And charging continues for 2 seconds

  Scenario: TC_028 Remote stop of an unknown transaction is Rejected (§5.12)
    Given the charger is online
    When the central system remote-stops transaction 424242
    Then the charger answers "Rejected"

  Scenario: TC_034 Power failure with an Unavailable connector: Scheduled during the transaction, Unavailable after the reboot (§5.2, §4.9)
    Given the charger is online
    When the EV is plugged in
    And the card "04A1B2C3" is presented
    And the EV asks for charge
    Then charging starts within 5 seconds
    When the central system sets connector 0 Inoperative
    Then the charger answers "Scheduled"
    And charging continues for 2 seconds
    When the charger loses power
    And power is restored
    Then the central system receives a StopTransaction with reason "PowerLoss" within 30 seconds
    And the central system receives a StatusNotification "Unavailable" within 30 seconds
    And the connector status is "Unavailable"
    When the central system sets connector 0 Operative
    Then the charger answers "Accepted"
    And the central system receives a StatusNotification "Available" for connector 0 within 10 seconds

  Scenario: ChangeAvailability Inoperative without a transaction is Accepted and survives a power cycle (§5.2)
    Given the charger is online
    When the central system sets connector 1 Inoperative
    Then the charger answers "Accepted"
    And the central system receives a StatusNotification "Unavailable" within 5 seconds
    When the charger is power-cycled
    Then the charger is back online within 30 seconds
    And the connector status is "Unavailable"

  Scenario: TC_036 Connection loss during a transaction: its meter values arrive in order after the outage (§4.7, §3.7)
    Given the configuration key "MeterValueSampleInterval" is "2"
    And the charger is online
    When the EV is plugged in
    And the card "04A1B2C3" is presented
    And the EV asks for charge
    Then charging starts within 5 seconds
    When the network to the central system is cut
    Then the charger reports being offline within 15 seconds
    When the network is restored
    Then the charger is back online within 30 seconds
    When the card "04A1B2C3" is presented
    Then the central system receives these transaction messages in order:
      | message          | id tag   |
      | StartTransaction | 04A1B2C3 |
      | MeterValues      |          |
      | MeterValues      |          |
      | StopTransaction  |          |
    And every transaction is reported exactly once

  Scenario: TC_037 An online transaction stopped during an outage is delivered after it, stamped when it ended (§3.7, §4.10)
    Given the configuration key "MeterValueSampleInterval" is "2"
    And the charger is online
    When the EV is plugged in
    And the card "04A1B2C3" is presented
    And the EV asks for charge
    Then charging starts within 5 seconds
    When the network to the central system is cut
    Then the charger reports being offline within 15 seconds
    When the card "04A1B2C3" is presented
    Then charging stops within 5 seconds
    When 3 seconds pass
    And the network is restored
    Then the central system receives these transaction messages in order:
      | message          | id tag   |
      | StartTransaction | 04A1B2C3 |
      | MeterValues      |          |
      | StopTransaction  |          |
    And the StopTransaction carries the time the transaction ended, not the time it was sent
    And every transaction is reported exactly once

  Scenario: Identification first while offline, from the local list (OCTT S-case, §3.5.3, §4.10)
    Given the charger is online
    When the central system sends the local list version 1:
      | id tag   | status   |
      | 04A1B2C3 | Accepted |
    And the network to the central system is cut
    Then the charger reports being offline within 15 seconds
    When the card "04A1B2C3" is presented
    And the EV is plugged in
    And the EV asks for charge
    Then charging starts within 5 seconds
    When the network is restored
    Then the central system receives a StartTransaction for "04A1B2C3" within 30 seconds
