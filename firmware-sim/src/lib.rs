//! Simulated meters and sensors speaking the real wire formats (Modbus TCP SDM630, Tasmota, The Things Stack).
