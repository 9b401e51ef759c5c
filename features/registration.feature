Feature: Registration with the central system
  After every boot the charger sends BootNotification first and nothing else until it is Accepted
  (OCPP 1.6 §4.2, errata E-3.11): not even the queued transaction messages. While Pending it
  answers the central system, sends only what TriggerMessage asks for and rejects remote start and
  stop; while Rejected it stays silent until the interval has passed. Once Accepted it reports
  connector 0 and every connector (§4.9, errata E-3.22). A reconnect without a reboot sends no
  BootNotification and reports only what changed while offline.

  Background:
    Given the central system knows these id tags:
      | id tag   | status   |
      | 04A1B2C3 | Accepted |

  Scenario: After Accepted the charger reports connector 0 and connector 1
    Given the central system answers BootNotification with "Pending"
    And the charger has sent its BootNotification
    Then the central system receives no StatusNotification for 3 seconds
    Given the central system answers BootNotification with "Accepted"
    Then the central system receives a StatusNotification "Available" for connector 0 within 15 seconds
    And the central system receives a StatusNotification "Available" for connector 1 within 5 seconds

  Scenario: While Pending a remote start is rejected
    Given the central system answers BootNotification with "Pending"
    And the charger has sent its BootNotification
    When the central system remote-starts a transaction for "04A1B2C3"
    Then the charger answers "Rejected"
    And the central system receives no StartTransaction for 3 seconds

  Scenario: While Pending the charger sends what TriggerMessage asks for
    Given the central system answers BootNotification with "Pending"
    And the charger has sent its BootNotification
    When the central system triggers a StatusNotification
    Then the charger answers "Accepted"
    And the central system receives a StatusNotification "Available" within 5 seconds

  Scenario: A Rejected charger stays silent until the interval has passed
    Given the central system answers BootNotification with "Rejected"
    And the charger has sent its BootNotification
    Then the central system receives no StatusNotification for 3 seconds
    And the central system has received exactly 1 BootNotification
    Given the central system answers BootNotification with "Accepted"
    Then the central system receives a StatusNotification "Available" for connector 0 within 15 seconds
    And the central system has received exactly 2 BootNotification

  @power @network
  Scenario: A Pending registration holds the queue until Accepted
    Given the configuration key "AllowOfflineTxForUnknownId" is "true"
    And the charger is online
    When the connection to the central system is refused
    Then the charger reports being offline within 5 seconds
    When the EV is plugged in
    And the card "04A1B2C3" is presented
    And the EV asks for charge
    Then charging starts within 5 seconds
    When the card "04A1B2C3" is presented
    Then charging stops within 5 seconds
    When the charger is power-cycled
    Given the central system answers BootNotification with "Pending"
    When the network is restored
    Given the charger has sent its BootNotification
    Then the central system receives no StartTransaction for 5 seconds
    And the central system has received exactly 0 StartTransaction
    And the central system has received exactly 0 StopTransaction
    Given the central system answers BootNotification with "Accepted"
    Then the central system receives a StartTransaction for "04A1B2C3" within 20 seconds
    And the central system receives a StopTransaction with reason "Local" within 10 seconds
    And every transaction is reported exactly once

  @power
  Scenario: While Pending a remote stop is rejected
    Given the charger is online
    When the EV is plugged in
    And the card "04A1B2C3" is presented
    And the EV asks for charge
    Then charging starts within 5 seconds
    And the central system receives a StartTransaction for "04A1B2C3" within 5 seconds
    And the charger's queue is empty within 5 seconds
    Given the central system answers BootNotification with "Pending"
    When the charger is power-cycled
    Given the charger has sent its BootNotification
    When the central system remote-stops the transaction
    Then the charger answers "Rejected"
    And the central system receives no StopTransaction for 3 seconds
    Given the central system answers BootNotification with "Accepted"
    Then the central system receives a StopTransaction with reason "PowerLoss" within 20 seconds
    And every transaction is reported exactly once

  @network
  Scenario: A reconnect without a reboot sends no BootNotification
    Given the charger is online
    When the connection to the central system is refused
    Then the charger reports being offline within 5 seconds
    When the network is restored
    Then the charger is back online within 30 seconds
    And the central system has received exactly 1 BootNotification

  @network
  Scenario: After a reconnect the charger reports the status that changed while offline
    Given the charger is online
    When the connection to the central system is refused
    Then the charger reports being offline within 5 seconds
    When the EV is plugged in
    And the network is restored
    Then the central system receives a StatusNotification "Preparing" within 30 seconds

  @network
  Scenario: After a reconnect the charger does not replay the statuses it went through offline
    Given the configuration key "AllowOfflineTxForUnknownId" is "true"
    And the charger is online
    When the connection to the central system is refused
    Then the charger reports being offline within 5 seconds
    When the EV is plugged in
    And the card "04A1B2C3" is presented
    And the EV asks for charge
    Then charging starts within 5 seconds
    When the card "04A1B2C3" is presented
    Then charging stops within 5 seconds
    When the EV is unplugged
    Then the connector status is "Available"
    When the network is restored
    Then the central system receives these transaction messages in order:
      | message          | id tag   | reason |
      | StartTransaction | 04A1B2C3 |        |
      | StopTransaction  |          | Local  |
    And the central system receives no StatusNotification for 3 seconds
    And the central system has received exactly 2 StatusNotification

  Scenario: While Pending the charger answers the central system's requests
    Given the central system answers BootNotification with "Pending"
    And the charger has sent its BootNotification
    When the central system changes "HeartbeatInterval" to "120"
    Then the charger answers "Accepted"
    And the configuration key "HeartbeatInterval" reads "120"

  Scenario: Once Accepted a remote start is accepted and starts the transaction
    Given the charger is online
    When the central system remote-starts a transaction for "04A1B2C3"
    Then the charger answers "Accepted"
    When the EV is plugged in
    And the EV asks for charge
    Then charging starts within 5 seconds
    And the central system receives a StartTransaction for "04A1B2C3" within 5 seconds
