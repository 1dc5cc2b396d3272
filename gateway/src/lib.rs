//! Gateway: reads meters over Modbus and device MQTT and publishes canonical readings.
