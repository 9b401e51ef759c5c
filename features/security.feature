Feature: Connection security (OCPP 1.6 security profiles 1 to 3)
  The charger proves itself to the central system with HTTP Basic auth (profiles 1 and 2: user
  name = charge point id, password = the AuthorizationKey's bytes) or a client certificate
  (profile 3), and trusts it by its TLS certificate (profiles 2 and 3: chain to the CA it was
  given, and the host name). A 401 or a certificate that does not verify is a failed connection:
  the charger backs off and retries as for any failure and keeps everything queued.
  SecurityProfile is never lowered by ChangeConfiguration; a new AuthorizationKey is used from
  the next connection on, and the key is write-only: no frame, answer or log line shows it
  (field.md "Connection security"; OCPP-J 1.6 §7 and errata 3.10).

  Background:
    Given the central system knows these id tags:
      | id tag   | status   |
      | 04A1B2C3 | Accepted |

  Scenario: Profile 1: the charger logs in with HTTP Basic auth
    Given the central system requires security profile 1
    And the configuration key "AuthorizationKey" is "3031323334353637383930313233343536373839"
    And the charger is online
    Then the configuration key "SecurityProfile" reads "1"
    And the central system has received exactly 1 BootNotification

  Scenario: Profile 2: the charger trusts the central system's certificate and logs in with Basic auth
    Given the central system requires security profile 2
    And the configuration key "AuthorizationKey" is "3031323334353637383930313233343536373839"
    And the charger is online
    Then the configuration key "SecurityProfile" reads "2"
    And the card "04A1B2C3" has charged here while online
    And every transaction is reported exactly once

  Scenario: Profile 3: the charger proves itself with its client certificate
    Given the central system requires security profile 3
    And the charger is online
    Then the configuration key "SecurityProfile" reads "3"
    And the central system has received exactly 1 BootNotification
    And the card "04A1B2C3" has charged here while online
    And every transaction is reported exactly once

  Scenario: A wrong key is refused again and again, with growing pauses, and never gets in
    Given the central system requires security profile 1
    And the configuration key "AuthorizationKey" is "3031323334353637383930313233343536373839"
    And the charger is online
    When the central system expects the AuthorizationKey "41424344454647484950515253545556"
    And the connection to the central system is refused
    And the network is restored
    Then the central system refuses the charger's password within 10 seconds
    And the central system refuses the charger's password at least 4 times within 15 seconds, with growing pauses
    And the charger reports being offline within 5 seconds

  Scenario: A key changed by ChangeConfiguration is used at the next connection
    Given the central system requires security profile 2
    And the configuration key "AuthorizationKey" is "3031323334353637383930313233343536373839"
    And the charger is online
    When the central system changes "AuthorizationKey" to "41424344454647484950515253545556"
    Then the charger answers "Accepted"
    When the central system expects the AuthorizationKey "41424344454647484950515253545556"
    And the connection to the central system is refused
    And the network is restored
    Then the charger is back online within 30 seconds
    And the central system has refused no password

  Scenario: A lowered SecurityProfile is rejected and changes nothing
    Given the central system requires security profile 2
    And the configuration key "AuthorizationKey" is "3031323334353637383930313233343536373839"
    And the charger is online
    When the central system changes "SecurityProfile" to "1"
    Then the charger answers "Rejected"
    And the configuration key "SecurityProfile" reads "2"
    When the central system changes "SecurityProfile" to "0"
    Then the charger answers "Rejected"
    And the configuration key "SecurityProfile" reads "2"

  Scenario: The AuthorizationKey is never revealed
    Given the central system requires security profile 1
    And the configuration key "AuthorizationKey" is "3031323334353637383930313233343536373839"
    And the charger is online
    When the central system changes "AuthorizationKey" to "41424344454647484950515253545556"
    Then the charger answers "Accepted"
    And the charger never reveals the AuthorizationKey

  Scenario: A session charged while the credentials were refused is delivered exactly once
    Given the central system requires security profile 1
    And the configuration key "AuthorizationKey" is "3031323334353637383930313233343536373839"
    And the card "04A1B2C3" has charged here while online
    When the central system expects the AuthorizationKey "41424344454647484950515253545556"
    And the connection to the central system is refused
    Then the charger reports being offline within 15 seconds
    When the network is restored
    Then the central system refuses the charger's password within 10 seconds
    When the EV is plugged in
    And the card "04A1B2C3" is presented
    And the EV asks for charge
    Then charging starts within 5 seconds
    When the EV draws 16 A
    And 3 seconds pass
    And the card "04A1B2C3" is presented
    Then charging stops within 5 seconds
    When the EV is unplugged
    And the central system expects the AuthorizationKey "3031323334353637383930313233343536373839"
    Then the charger is back online within 30 seconds
    And the central system receives these transaction messages in order:
      | message          | id tag   |
      | StartTransaction | 04A1B2C3 |
      | StopTransaction  |          |
    And the central system has received exactly 2 StartTransaction
    And the central system has received exactly 2 StopTransaction
    And every transaction is reported exactly once
