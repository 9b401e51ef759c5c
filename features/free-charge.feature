# @sim-only: free charge mode is a setting of the charger's own configuration file ([charger]
# authorization = "free"), which the rig writes for a simulated board only; a real board is
# provisioned with it, so a bench profile skips these scenarios instead of failing them.
@sim-only
Feature: Free-charge mode
  A charger installed for free charging has no card reader in use: it authorizes at the central
  system with its own serial number as the id tag, and plugging in starts a transaction (white
  paper; OCPP 1.6 §3.5.4 applies to that id tag like to any other). Offline, with
  AllowOfflineTxForUnknownId true, it charges without any authorization; the StartTransaction
  reaches the central system after the reconnect, carrying the serial number.

  Background:
    Given the charger is in free charge mode
    And the charger's serial number is "CR-FREE-0042"
    And the central system knows these id tags:
      | id tag       | status   |
      | CR-FREE-0042 | Accepted |

  Scenario: Plugging in starts a transaction with the serial number as id tag
    Given the charger is online
    When the EV is plugged in
    Then the central system receives a StartTransaction for "CR-FREE-0042" within 10 seconds
    When the EV asks for charge
    Then charging starts within 5 seconds

  @network
  Scenario: Offline with AllowOfflineTxForUnknownId the charger charges and reports it later
    Given the configuration key "AllowOfflineTxForUnknownId" is "true"
    And the charger is online
    When the connection to the central system is refused
    Then the charger reports being offline within 5 seconds
    When the EV is plugged in
    And the EV asks for charge
    Then charging starts within 5 seconds
    When 4 seconds pass
    And the network is restored
    Then the central system receives a StartTransaction for "CR-FREE-0042" within 30 seconds
    And the StartTransaction carries the time charging started, not the time it was sent

  @network
  Scenario: Offline by default the free-charge charger does not charge
    Given the charger is online
    When the connection to the central system is refused
    Then the charger reports being offline within 5 seconds
    When the EV is plugged in
    And the EV asks for charge
    Then charging does not start within 5 seconds
