Feature: Network faults and power loss
  The charger must notice a lost central system by itself (OCPP-J §5.3, §5.4; OCPP 1.6 §9.1.34): a refused or
  closed connection at once, a silent cut within WebSocketPingInterval plus the pong timeout, a
  central system that stops answering when its requests time out (errata E-3.82). Charging goes on
  through any of them and nothing is lost or repeated afterwards. A power cut is a hard kill: the
  queue, the open transaction and the last meter reading survive it, and a transaction it
  interrupted is stopped after the reboot with reason PowerLoss, exactly once (our decision).

  Background:
    Given the central system knows these id tags:
      | id tag   | status   |
      | 04A1B2C3 | Accepted |
    And the configuration key "AllowOfflineTxForUnknownId" is "true"

  @network
  Scenario: A silent cut during a transaction is noticed and healed
    Given the charger is online
    When the EV is plugged in
    And the card "04A1B2C3" is presented
    And the EV asks for charge
    Then charging starts within 5 seconds
    And the charger's queue is empty within 5 seconds
    When the network to the central system is cut
    Then the charger reports being offline within 15 seconds
    And charging continues for 3 seconds
    When the card "04A1B2C3" is presented
    Then charging stops within 5 seconds
    When the network is restored
    Then the charger is back online within 30 seconds
    And the central system receives a StopTransaction with reason "Local" within 15 seconds
    And every transaction is reported exactly once

  @network
  Scenario: A refused connection during a transaction is noticed at once
    Given the charger is online
    When the EV is plugged in
    And the card "04A1B2C3" is presented
    And the EV asks for charge
    Then charging starts within 5 seconds
    And the charger's queue is empty within 5 seconds
    When the connection to the central system is refused
    Then the charger reports being offline within 3 seconds
    And charging continues for 3 seconds
    When the network is restored
    Then the charger is back online within 30 seconds
    When the card "04A1B2C3" is presented
    Then the central system receives a StopTransaction with reason "Local" within 15 seconds
    And every transaction is reported exactly once

  Scenario: A central system that stops answering during a transaction loses nothing
    Given the charger is online
    When the EV is plugged in
    And the card "04A1B2C3" is presented
    And the EV asks for charge
    Then charging starts within 5 seconds
    And the central system receives a StartTransaction for "04A1B2C3" within 5 seconds
    When the central system stops answering
    And the card "04A1B2C3" is presented
    Then charging stops within 5 seconds
    When 3 seconds pass
    And the central system answers again
    Then the central system receives a StopTransaction with reason "Local" within 30 seconds
    And every transaction is reported exactly once

  Scenario: A card presented to a hung central system is decided offline after the timeout
    Given the charger is online
    When the central system stops answering
    And the EV is plugged in
    And the card "04A1B2C3" is presented
    And the EV asks for charge
    Then charging starts within 25 seconds
    When the central system answers again
    Then the central system receives a StartTransaction for "04A1B2C3" within 30 seconds
    When the card "04A1B2C3" is presented
    Then the central system receives a StopTransaction with reason "Local" within 15 seconds
    And every transaction is reported exactly once

  @power @network
  Scenario: Power lost while charging offline ends the transaction as PowerLoss, once
    Given the charger is online
    When the connection to the central system is refused
    Then the charger reports being offline within 5 seconds
    When the EV is plugged in
    And the EV draws 16 A
    And the card "04A1B2C3" is presented
    And the EV asks for charge
    Then charging starts within 5 seconds
    When 4 seconds pass
    And the charger loses power
    And power is restored
    And the network is restored
    Then the central system receives these transaction messages in order:
      | message          | id tag   | reason    |
      | StartTransaction | 04A1B2C3 |           |
      | StopTransaction  |          | PowerLoss |
    And the StartTransaction carries the time charging started, not the time it was sent
    And the transaction delivered between 2 and 6 Wh
    And the central system has received exactly 1 StopTransaction
    And every transaction is reported exactly once

  @power
  Scenario: Power lost while charging online ends the transaction as PowerLoss after the reboot
    Given the charger is online
    When the EV is plugged in
    And the card "04A1B2C3" is presented
    And the EV asks for charge
    Then charging starts within 5 seconds
    And the central system receives a StartTransaction for "04A1B2C3" within 5 seconds
    And the charger's queue is empty within 5 seconds
    When the charger is power-cycled
    Then the central system receives a StopTransaction with reason "PowerLoss" within 30 seconds
    And the central system has received exactly 1 StopTransaction
    And every transaction is reported exactly once

  @power @network
  Scenario: A reboot while offline keeps the queued session
    Given the charger is online
    When the connection to the central system is refused
    Then the charger reports being offline within 5 seconds
    When the EV is plugged in
    And the card "04A1B2C3" is presented
    And the EV asks for charge
    Then charging starts within 5 seconds
    When the card "04A1B2C3" is presented
    Then charging stops within 5 seconds
    When the EV is unplugged
    And the charger is power-cycled
    Then the charger reports being offline within 15 seconds
    When the network is restored
    Then the central system receives these transaction messages in order:
      | message          | id tag   | reason |
      | StartTransaction | 04A1B2C3 |        |
      | StopTransaction  |          | Local  |
    And the central system has received exactly 1 StartTransaction
    And every transaction is reported exactly once

  Scenario: A soft reset while the central system is hung loses nothing
    Given the charger is online
    When the central system stops answering
    And the EV is plugged in
    And the card "04A1B2C3" is presented
    And the EV asks for charge
    Then charging starts within 25 seconds
    When the central system sends a "Soft" reset
    Then the charger answers "Accepted"
    And charging stops within 10 seconds
    When the central system answers again
    Then the central system receives these transaction messages in order:
      | message          | id tag   | reason    |
      | StartTransaction | 04A1B2C3 |           |
      | StopTransaction  |          | SoftReset |
    And every transaction is reported exactly once

  @power @network
  Scenario: Meter values sampled offline survive a power cut, in order
    Given the configuration key "MeterValueSampleInterval" is "2"
    And the charger is online
    When the connection to the central system is refused
    Then the charger reports being offline within 5 seconds
    When the EV is plugged in
    And the EV draws 16 A
    And the card "04A1B2C3" is presented
    And the EV asks for charge
    Then charging starts within 5 seconds
    When 7 seconds pass
    And the charger is power-cycled
    And the network is restored
    Then the central system receives these transaction messages in order:
      | message          | id tag   | reason    |
      | StartTransaction | 04A1B2C3 |           |
      | MeterValues      |          |           |
      | MeterValues      |          |           |
      | StopTransaction  |          | PowerLoss |
    And the MeterValues of the transaction are in chronological order, 2 seconds apart
    And every transaction is reported exactly once

  @power @network
  Scenario: Sessions on both sides of a power cut while offline are delivered in order, once
    Given the charger is online
    When the connection to the central system is refused
    Then the charger reports being offline within 5 seconds
    When the EV is plugged in
    And the card "04A1B2C3" is presented
    And the EV asks for charge
    Then charging starts within 5 seconds
    When the charger is power-cycled
    And the EV is unplugged
    And the EV is plugged in
    And the card "04A1B2C3" is presented
    And the EV asks for charge
    Then charging starts within 15 seconds
    When the card "04A1B2C3" is presented
    Then charging stops within 5 seconds
    When the network is restored
    Then the central system receives these transaction messages in order:
      | message          | id tag   | reason    |
      | StartTransaction | 04A1B2C3 |           |
      | StopTransaction  |          | PowerLoss |
      | StartTransaction | 04A1B2C3 |           |
      | StopTransaction  |          | Local     |
    And the central system has received exactly 2 StartTransaction
    And every transaction is reported exactly once

  @power
  Scenario: A transaction ended by power loss is not reported again at the next reboot
    Given the charger is online
    When the EV is plugged in
    And the card "04A1B2C3" is presented
    And the EV asks for charge
    Then charging starts within 5 seconds
    And the central system receives a StartTransaction for "04A1B2C3" within 5 seconds
    And the charger's queue is empty within 5 seconds
    When the charger is power-cycled
    Then the central system receives a StopTransaction with reason "PowerLoss" within 30 seconds
    And the charger's queue is empty within 5 seconds
    When the charger is power-cycled
    Then the charger is back online within 30 seconds
    When 5 seconds pass
    Then the central system has received exactly 1 StopTransaction
    And every transaction is reported exactly once
