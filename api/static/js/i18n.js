// Texts in German (default) and English, and number and date formatting in the user's locale via Intl.
// The language is the user's choice (stored in localStorage); numbers and dates follow the browser's locale
// in that language (de-DE, en-GB, …), the currency the configured tariff.

const TEXTS = {
  de: {
    skip: "Zum Inhalt", switch: "English", views: "Ansichten", loading: "Lädt …", live: "● live", offline: "○ getrennt",
    "token.ask": "Bitte Zugangstoken eingeben.", "token.bad": "Token ungültig.", "token.label": "Zugangstoken", login: "Anmelden",
    "view.overview": "Gebäude", "view.building": "Gebäude im Detail", "view.alerts": "Meldungen", "view.home": "Mein Haushalt", "view.trees": "Bäume",
    none: "keine", unknown: "unbekannt", site: "Standort", building: "Gebäude", household: "Haushalt", park: "Park",
    power: "Leistung jetzt", today: "Heute", month: "Dieser Monat", lastMonth: "Vormonat", lastYear: "Vorjahresmonat", yesterday: "Gestern", lastWeek: "Letzte Woche",
    alertsOpen: "offene Meldungen", attention: "Sortiert nach Handlungsbedarf", health: "Zustand",
    "health.online": "online", "health.degraded": "gestört", "health.offline": "offline", "health.stale": "veraltet", "health.unknown": "unbekannt",
    "overview.title": "Alle Gebäude", "overview.caption": "Gebäude mit Leistung, Verbrauch heute und diesen Monat im Vergleich, offene Meldungen",
    open: "Öffnen", change: "Änderung", soFar: "bis jetzt", incomplete: "unvollständig",
    loadProfile: "Lastgang", range: "Zeitraum", "range.1d": "24 Stunden", "range.7d": "7 Tage", "range.30d": "30 Tage", "range.custom": "Eigener Zeitraum",
    from: "Von", to: "Bis", show: "Anzeigen", panLeft: "Früher", panRight: "Später", reset: "Zurücksetzen",
    "zoom.hint": "Mit der Maus einen Bereich markieren zum Vergrößern; Pfeiltasten verschieben, Doppelklick setzt zurück.",
    daily: "Tage gegen Vorjahr", monthly: "Monate gegen Vorjahr", thisPeriod: "Aktuell", yearBefore: "Vorjahr",
    carpet: "Carpet-Plot: Leistung je Stunde und Tag (letzte 28 Tage)", "carpet.summary": "Nachtgrundlast 0–5 Uhr: {0}; Wochenende: {1}; Werktag 8–17 Uhr: {2}.",
    meters: "Zähler und Geräte", top: "Größte Verbraucher diesen Monat", share: "Anteil", "top.warn": "mehr als der Hauptzähler: Zuordnung prüfen",
    table: "Werte als Tabelle", time: "Zeit", value: "Wert", day: "Tag", hour: "Stunde", noData: "Keine Daten im Zeitraum.",
    "alerts.title": "Meldungen", "alerts.none": "Keine offenen Meldungen.", ack: "Bestätigen", comment: "Kommentar (optional)",
    "ack.sent": "Bestätigung gesendet: {0}", "ack.by": "bestätigt von {0} am {1}", threshold: "Schwelle", since: "seit",
    "state.open": "offen", "state.acknowledged": "bestätigt", "state.resolved": "behoben",
    "kind.high_consumption": "Hoher Verbrauch", "kind.baseload": "Grundlast über normal", "kind.left_on": "Läuft außerhalb der Nutzungszeit",
    "kind.tree_water": "Baum braucht Wasser", "kind.sensor_fault": "Sensor prüfen",
    "sev.critical": "kritisch", "sev.warning": "Warnung", "sev.info": "Hinweis",
    "home.now": "Sie verbrauchen gerade", "home.today": "Heute je Stunde", "home.month": "Dieser Monat je Tag",
    "home.compare": "Dieser Monat im Vergleich", "home.devices": "Ihre Geräte", "home.cost": "Kosten", "home.projection": "Hochgerechnet auf den Monat",
    "home.hourNote": "Aus der mittleren Leistung je Stunde.", household_pick: "Haushalt",
    "home.compareChart": "Vorjahresmonat, Vormonat und dieser Monat", "home.yearBill": "Jahresrechnung (Prognose)", "home.cmp.year": "Vorjahr", "home.cmp.month": "Vormonat", "home.cmp.now": "Bisher", "home.cmp.projection": "Prognose",
    "home.devicesNote": "Nach Verbrauch in diesem Monat, der größte zuerst; Anteil am ganzen Haushalt.", "home.mainMeter": "Hauptzähler (ganzer Haushalt)",
    "trees.title": "Bäume", "trees.map": "Karte der Bäume nach Dringlichkeit", "trees.filters": "Filter", "trees.state": "Zustand", "trees.species": "Baumart",
    "trees.all": "alle", "trees.list": "Gießliste heute", "trees.route": "Reihenfolge als Route ab {0} (nächster Nachbar), {1} Bäume, {2} km",
    "trees.depot": "Depot", "trees.first": "dringendstem Baum", "trees.none": "Heute muss kein Baum gegossen werden.",
    "trees.csv": "CSV herunterladen", "trees.gpx": "GPX herunterladen", "trees.print": "Drucken", "trees.days": "Tage bis kritisch",
    "trees.tension": "Saugspannung", "trees.moisture": "Bodenfeuchte", "trees.planted": "gepflanzt", "trees.stop": "Nr.", "trees.tree": "Baum",
    "trees.distance": "Weg", "trees.plain": "Ohne Kartenhintergrund (keine Kachel-URL konfiguriert).", "trees.maintenance": "Sensorwartung",
    "trees.trend": "Trend", "trend.drying": "trocknet aus", "trend.wetting": "wird feuchter", "trend.steady": "gleichbleibend", "trees.age": "Alter", "trees.park": "Grünanlage", "trees.shown": "{0} von {1} Bäumen gezeigt",
    "age.young": "jung (bis 4 Jahre)", "age.middle": "mittel (5–10 Jahre)", "age.old": "alt (über 10 Jahre)",
    "soil.good": "gut", "soil.moderate": "mäßig", "soil.critical": "kritisch", "soil.unknown": "unbekannt",
    "leftOut": "Gießungen erfassen und die Verwaltung folgen mit der Datenbank.",
  },
  en: {
    skip: "Skip to content", switch: "Deutsch", views: "Views", loading: "Loading …", live: "● live", offline: "○ disconnected",
    "token.ask": "Please enter your access token.", "token.bad": "Invalid token.", "token.label": "Access token", login: "Sign in",
    "view.overview": "Buildings", "view.building": "Building detail", "view.alerts": "Alerts", "view.home": "My home", "view.trees": "Trees",
    none: "none", unknown: "unknown", site: "Site", building: "Building", household: "Household", park: "Park",
    power: "Power now", today: "Today", month: "This month", lastMonth: "Last month", lastYear: "Same month last year", yesterday: "Yesterday", lastWeek: "Last week",
    alertsOpen: "open alerts", attention: "Sorted by what needs attention", health: "Health",
    "health.online": "online", "health.degraded": "degraded", "health.offline": "offline", "health.stale": "stale", "health.unknown": "unknown",
    "overview.title": "All buildings", "overview.caption": "Buildings with power, energy today and this month compared, open alerts",
    open: "Open", change: "Change", soFar: "so far", incomplete: "incomplete",
    loadProfile: "Load profile", range: "Range", "range.1d": "24 hours", "range.7d": "7 days", "range.30d": "30 days", "range.custom": "Custom range",
    from: "From", to: "To", show: "Show", panLeft: "Earlier", panRight: "Later", reset: "Reset",
    "zoom.hint": "Drag across the chart to zoom; arrow keys pan, double-click resets.",
    daily: "Days against last year", monthly: "Months against last year", thisPeriod: "Current", yearBefore: "Year before",
    carpet: "Carpet plot: power per hour and day (last 28 days)", "carpet.summary": "Night baseload 0–5 h: {0}; weekend: {1}; weekdays 8–17 h: {2}.",
    meters: "Meters and devices", top: "Top consumers this month", share: "Share", "top.warn": "more than the main meter: check the wiring",
    table: "Values as a table", time: "Time", value: "Value", day: "Day", hour: "Hour", noData: "No data in this range.",
    "alerts.title": "Alerts", "alerts.none": "No open alerts.", ack: "Acknowledge", comment: "Comment (optional)",
    "ack.sent": "Acknowledgement sent: {0}", "ack.by": "acknowledged by {0} on {1}", threshold: "threshold", since: "since",
    "state.open": "open", "state.acknowledged": "acknowledged", "state.resolved": "resolved",
    "kind.high_consumption": "High consumption", "kind.baseload": "Baseload above normal", "kind.left_on": "Running outside usage hours",
    "kind.tree_water": "Tree needs water", "kind.sensor_fault": "Check sensor",
    "sev.critical": "critical", "sev.warning": "warning", "sev.info": "info",
    "home.now": "You are using right now", "home.today": "Today by hour", "home.month": "This month by day",
    "home.compare": "This month compared", "home.devices": "Your devices", "home.cost": "Cost", "home.projection": "Projected for the month",
    "home.hourNote": "From the mean power per hour.", household_pick: "Household",
    "home.compareChart": "Same month last year, last month and this month", "home.yearBill": "Year's bill (forecast)", "home.cmp.year": "Last year", "home.cmp.month": "Last month", "home.cmp.now": "So far", "home.cmp.projection": "Projected",
    "home.devicesNote": "By this month's use, largest first; share of the whole household.", "home.mainMeter": "Main meter (whole household)",
    "trees.title": "Trees", "trees.map": "Map of the trees by urgency", "trees.filters": "Filters", "trees.state": "State", "trees.species": "Species",
    "trees.all": "all", "trees.list": "Today's watering list", "trees.route": "Order as a route from {0} (nearest neighbour), {1} trees, {2} km",
    "trees.depot": "the depot", "trees.first": "the most urgent tree", "trees.none": "No tree needs water today.",
    "trees.csv": "Download CSV", "trees.gpx": "Download GPX", "trees.print": "Print", "trees.days": "Days until critical",
    "trees.tension": "Soil tension", "trees.moisture": "Soil moisture", "trees.planted": "planted", "trees.stop": "No.", "trees.tree": "Tree",
    "trees.distance": "Distance", "trees.plain": "No map background (no tile URL configured).", "trees.maintenance": "Sensor maintenance",
    "trees.trend": "Trend", "trend.drying": "drying", "trend.wetting": "getting wetter", "trend.steady": "steady", "trees.age": "Age", "trees.park": "Park", "trees.shown": "{0} of {1} trees shown",
    "age.young": "young (up to 4 years)", "age.middle": "middle (5–10 years)", "age.old": "old (over 10 years)",
    "soil.good": "good", "soil.moderate": "moderate", "soil.critical": "critical", "soil.unknown": "unknown",
    "leftOut": "Recording waterings and the admin screens come with the database.",
  },
};

// Waterings, the soil history, comments on alerts, cost and forecast (issues 18 and 21).
Object.assign(TEXTS.de, {
  "water.record": "Gießen erfassen", "water.title": "Gießung erfassen", "water.tree": "Baum", "water.litres": "Liter",
  "water.at": "Zeitpunkt", "water.by": "Wer (Trupp)", "water.save": "Speichern", "water.saved": "Gießung gespeichert: {0}, {1} L",
  "water.failed": "Nicht gespeichert: {0}", "water.log": "Gießungen", "water.none": "Noch keine Gießung erfasst.",
  "water.sum": "{0} Gießungen, zusammen {1} L", "soil.history": "Bodenwasser der letzten 30 Tage mit Gießungen",
  "soil.pick": "Baum für den Verlauf", "soil.sensorless": "Dieser Baum hat keinen Sensor; sein Zustand ist übernommen.",
  "comments": "Kommentare", "ack.comment": "Kommentar zur Bestätigung", "ack.failed": "Bestätigung fehlgeschlagen: {0}",
  "cost.title": "Kosten und Prognose", "cost.month": "Kosten diesen Monat", "cost.tariff": "Tarif", "cost.monthEnd": "Prognose Monatsende",
  "cost.yearEnd": "Prognose Jahresende", "cost.band": "Spanne {0} bis {1}", "cost.budget": "Budget", "cost.budgetLeft": "{0} von {1} ({2})",
  "cost.noBudget": "kein Budget hinterlegt", "monthly.short": "Monate", "report.link": "Energiebericht (druckbar)", "perArea": "kWh/m²",
});
Object.assign(TEXTS.en, {
  "water.record": "Record watering", "water.title": "Record a watering", "water.tree": "Tree", "water.litres": "Litres",
  "water.at": "Time", "water.by": "Who (crew)", "water.save": "Save", "water.saved": "Watering saved: {0}, {1} L",
  "water.failed": "Not saved: {0}", "water.log": "Waterings", "water.none": "No watering recorded yet.",
  "water.sum": "{0} waterings, {1} L in all", "soil.history": "Soil water over the last 30 days with waterings",
  "soil.pick": "Tree for the history", "soil.sensorless": "This tree has no sensor; its state is inherited.",
  "comments": "Comments", "ack.comment": "Comment on the acknowledgement", "ack.failed": "Acknowledgement failed: {0}",
  "cost.title": "Cost and forecast", "cost.month": "Cost this month", "cost.tariff": "Tariff", "cost.monthEnd": "Forecast month end",
  "cost.yearEnd": "Forecast year end", "cost.band": "range {0} to {1}", "cost.budget": "Budget", "cost.budgetLeft": "{0} of {1} ({2})",
  "cost.noBudget": "no budget set", "monthly.short": "months", "report.link": "Energy report (printable)", "perArea": "kWh/m²",
});

// The admin view and the resident's activation (issue 18).
Object.assign(TEXTS.de, {
  "view.admin": "Verwaltung", "admin.household": "Haushalt anlegen", "admin.hhId": "Kennung des Haushalts (a-z, 0-9, -)",
  "admin.name": "Name", "admin.address": "Anschrift", "admin.since": "Einzug", "admin.device": "Zähler des Haushalts",
  "admin.deviceId": "Gerätekennung", "admin.class": "Geräteklasse", "admin.sourceType": "Anbindung",
  "admin.sourceParams": "Parameter der Anbindung", "admin.sourceHint": "Als Schlüssel=Wert, durch Kommas getrennt, z. B. prefix=shellypro3em-42 oder endpoint=192.0.2.10:10001, secondary=12345678.",
  "admin.create": "Anlegen", "admin.created": "Haushalt {0} angelegt.", "admin.code": "Aktivierungscode:", "admin.expires": "Gültig bis {0}.",
  "admin.print": "Brief drucken", "admin.sites": "Standorte", "admin.devices": "Geräte", "admin.users": "Benutzer", "admin.id": "Kennung",
  "admin.kind": "Art", "admin.user": "Benutzer", "admin.role": "Rolle", "admin.scope": "Sichtbereich", "admin.tokens": "Tokens",
  "admin.retire": "Stilllegen", "admin.revoke": "Zugang sperren", "admin.done": "{0}: {1} erledigt.", "admin.failed": "Fehlgeschlagen: {0}",
  "admin.import": "Zählerliste importieren (CSV)", "admin.importHint": "Kopfzeile mit site, device, source und je nach Anbindung endpoint, address, secondary, manufacturer, meter_id …; unbekannte Standorte werden als Haushalt angelegt.",
  "admin.file": "CSV-Datei", "admin.csv": "oder CSV einfügen", "admin.importRun": "Importieren",
  "admin.importSummary": "{0} angelegt, {1} geändert, {2} unverändert, {3} abgelehnt.", "admin.importRows": "Ergebnis je Zeile",
  "admin.line": "Zeile", "admin.result": "Ergebnis", "admin.reasons": "Gründe", "admin.r.created": "angelegt", "admin.r.updated": "geändert",
  "admin.r.unchanged": "unverändert", "admin.r.rejected": "abgelehnt", "admin.audit": "Änderungsprotokoll", "admin.actor": "Wer",
  "admin.action": "Aktion", "admin.entity": "Objekt", "admin.lists": "Bestand",
  "activate.title": "Zugang aktivieren", "activate.code": "Aktivierungscode aus Ihrem Brief", "activate.run": "Aktivieren",
  "activate.failed": "Aktivierung fehlgeschlagen: {0}", "activate.token": "Ihr Zugangstoken (nur jetzt sichtbar, bitte aufbewahren):",
  "activate.continue": "Weiter zu meinem Haushalt",
});
Object.assign(TEXTS.en, {
  "view.admin": "Administration", "admin.household": "Create a household", "admin.hhId": "Household id (a-z, 0-9, -)",
  "admin.name": "Name", "admin.address": "Address", "admin.since": "Move-in", "admin.device": "The household's meter",
  "admin.deviceId": "Device id", "admin.class": "Device class", "admin.sourceType": "Connection",
  "admin.sourceParams": "Connection parameters", "admin.sourceHint": "As key=value, separated by commas, e.g. prefix=shellypro3em-42 or endpoint=192.0.2.10:10001, secondary=12345678.",
  "admin.create": "Create", "admin.created": "Household {0} created.", "admin.code": "Activation code:", "admin.expires": "Valid until {0}.",
  "admin.print": "Print the letter", "admin.sites": "Sites", "admin.devices": "Devices", "admin.users": "Users", "admin.id": "Id",
  "admin.kind": "Kind", "admin.user": "User", "admin.role": "Role", "admin.scope": "Scope", "admin.tokens": "Tokens",
  "admin.retire": "Retire", "admin.revoke": "Revoke access", "admin.done": "{0}: {1} done.", "admin.failed": "Failed: {0}",
  "admin.import": "Import a meter list (CSV)", "admin.importHint": "A header with site, device, source and, by connection, endpoint, address, secondary, manufacturer, meter_id …; unknown sites are created as households.",
  "admin.file": "CSV file", "admin.csv": "or paste CSV", "admin.importRun": "Import",
  "admin.importSummary": "{0} created, {1} updated, {2} unchanged, {3} rejected.", "admin.importRows": "Result per row",
  "admin.line": "Line", "admin.result": "Result", "admin.reasons": "Reasons", "admin.r.created": "created", "admin.r.updated": "updated",
  "admin.r.unchanged": "unchanged", "admin.r.rejected": "rejected", "admin.audit": "Audit trail", "admin.actor": "Who",
  "admin.action": "Action", "admin.entity": "Entity", "admin.lists": "Inventory",
  "activate.title": "Activate access", "activate.code": "Activation code from your letter", "activate.run": "Activate",
  "activate.failed": "Activation failed: {0}", "activate.token": "Your access token (shown only now; keep it):",
  "activate.continue": "Continue to my household",
});

// Local businesses (issue 24).
Object.assign(TEXTS.de, {
  "view.business": "Mein Betrieb", "biz.sites": "Meine Standorte", "biz.costMonths": "Kosten je Monat (brutto) gegen Budget",
  "biz.monthCol": "Monat", "biz.gross": "Kosten brutto", "biz.budgetYear": "Budget {1}: {0}; Prognose Jahresende {2}.",
  "biz.slp": "Prognose aus dem Standardlastprofil {0} (noch wenig eigene Messwerte).", "biz.learned": "Prognose aus den eigenen Messwerten der letzten {0} Tage.",
  "biz.export": "Export für die Buchhaltung", "biz.format": "Format",
  "biz.excelDe": "Excel (Semikolon, Dezimalkomma)", "biz.rfc": "CSV (Komma, Dezimalpunkt)",
  "biz.exportNote": "Eine Zeile je Monat: kWh je Medium, netto, MwSt., brutto, Tarif, vollständig. UTF-8 mit BOM.",
  "biz.exported": "{0} heruntergeladen ({1} Monate).", "biz.exportFailed": "Export fehlgeschlagen: {0}",
});
Object.assign(TEXTS.en, {
  "view.business": "My business", "biz.sites": "My sites", "biz.costMonths": "Cost per month (gross) against budget",
  "biz.monthCol": "Month", "biz.gross": "Gross cost", "biz.budgetYear": "Budget {1}: {0}; forecast year end {2}.",
  "biz.slp": "Forecast from the standard load profile {0} (little own history yet).", "biz.learned": "Forecast from the site's own readings of the last {0} days.",
  "biz.export": "Export for the accountant", "biz.format": "Format",
  "biz.excelDe": "Excel (semicolon, decimal comma)", "biz.rfc": "CSV (comma, decimal point)",
  "biz.exportNote": "One row per month: kWh per medium, net, VAT, gross, tariff, complete. UTF-8 with BOM.",
  "biz.exported": "{0} downloaded ({1} months).", "biz.exportFailed": "Export failed: {0}",
});

// The peak watch (issue 24): the panel in the building and business views, the alert kinds.
Object.assign(TEXTS.de, {
  "kind.peak": "Neue Leistungsspitze droht", "kind.budget": "Budget überschritten",
  "peak.title": "Leistungsspitze und Leistungspreis", "peak.year": "Höchste Viertelstunde im Abrechnungsjahr",
  "peak.running": "Laufende Viertelstunde", "peak.elapsed": "{0} min gemessen", "peak.noRunning": "noch kein Messwert",
  "peak.cost": "Leistungspreis (Jahr, brutto)", "peak.price": "{0} je kW und Jahr (netto)",
  "peak.top": "Die 10 höchsten Viertelstunden des Abrechnungsjahrs und was in ihnen lief", "peak.rank": "Nr.",
  "peak.quarter": "Viertelstunde", "peak.avg": "Mittlere Leistung", "peak.ran": "Was lief (kWh)",
  "peak.noSubmeters": "keine Unterzähler",
});
Object.assign(TEXTS.en, {
  "kind.peak": "New peak demand ahead", "kind.budget": "Budget exceeded",
  "peak.title": "Peak demand and demand charge", "peak.year": "Highest quarter hour of the billing year",
  "peak.running": "Running quarter hour", "peak.elapsed": "{0} min measured", "peak.noRunning": "no reading yet",
  "peak.cost": "Demand charge (year, gross)", "peak.price": "{0} per kW and year (net)",
  "peak.top": "The billing year's 10 highest quarter hours and what ran in them", "peak.rank": "No.",
  "peak.quarter": "Quarter hour", "peak.avg": "Average power", "peak.ran": "What ran (kWh)",
  "peak.noSubmeters": "no sub-meters",
});

// The parks view (issues 21 and 22): district filter, litres to give now, outlook, rain, the season panel.
Object.assign(TEXTS.de, {
  "trees.district": "Bezirk", "trees.outlook": "Ausblick (3 Tage)", "trees.litresNow": "Liter jetzt",
  "litres.soil_deficit": "aus dem Bodendefizit bis Feldkapazität; {0} L seit der letzten Messung abgezogen",
  "litres.guideline": "ohne Bodenwert: Richtwert 100 L je Baum und Woche abzüglich der Gießungen der letzten 7 Tage",
  "litres.not_needed": "Boden gut, nicht binnen eines Tages kritisch",
  "outlook.critical_now": "jetzt kritisch", "outlook.in": "kritisch in {0} Tagen", "outlook.not_within": "nicht kritisch in {0} Tagen",
  "outlook.unknown": "unbekannt", "outlook.rain": "Regen erwartet: {0} mm",
  "soil.rain": "Regen (Vorhersage)", "soil.forecast": "Vorhersage 3 Tage",
  "season.title": "Gießsaison: Liter je Bezirk gegen den Richtwert", "season.year": "Saison", "season.districts": "Bezirke",
  "season.district": "Bezirk", "season.trees": "Bäume", "season.waterings": "Gießungen", "season.litres": "Gegossen",
  "season.guideline": "Richtwert (100 L je Baum und Woche)", "season.share": "Anteil", "season.unwatered": "Ungegossen",
  "season.shareOf": "Anteil des Richtwerts, {0}", "season.below": "Bäume unter dem Richtwert",
  "season.treeRow": "{0} ({1}): {2} L von {3} L, {4} Gießungen", "season.noneBelow": "Kein Baum unter dem Richtwert.",
  "season.notStarted": "Die Saison (1. März bis 1. November) hat noch nicht begonnen.", "season.more": "und {0} weitere",
  "season.period": "{0} bis {1}, {2} Wochen", "season.failed": "Saisonbericht nicht geladen: {0}",
  "trees.forecastError": "(Fehler {0})", "season.saved": "Gespart",
  "season.savedDef": "Gespart: in jeder Woche, in der ein Baum nicht kritisch war (kein kritischer Tag, an mindestens der Hälfte der Tage Messwerte), die Liter des Plans (100 L je Baum und Woche), die nicht gegossen wurden. Wochen ohne genug Messwerte sparen nichts.",
  "season.stayed": "Länger als {0} Tage kritisch", "season.stayedRow": "{0} ({1}): {2} Tage am Stück kritisch, {3} bis {4}; {5} kritische Tage",
  "season.noneStayed": "Kein Baum länger als {0} Tage am Stück kritisch.",
  "season.stayedDef": "Kritisch: das Tagesmittel eines Sensors jenseits der kritischen Grenze der Analyse (Saugspannung ab analytics.trees.critical_kpa, sonst die kritische Bodenfeuchte des Bodenprofils). Ein Tag ohne Messwert ist unbekannt und unterbricht die Folge.",
  "season.uptime": "Sensorverfügbarkeit", "season.sensor": "Sensor", "season.tree": "Baum", "season.received": "Empfangen",
  "season.expected": "Erwartet", "season.uptimeShare": "Verfügbarkeit", "season.daysWith": "Tage mit Werten",
  "season.uptimeDef": "Erwartet: Saisondauer geteilt durch das Sendeintervall des Sensors (api.season.sensor_interval, ab Werk 20 min beim LSE01).",
  "season.noSensors": "Keine Bäume mit Sensor.",
});
Object.assign(TEXTS.en, {
  "trees.district": "District", "trees.outlook": "Outlook (3 days)", "trees.litresNow": "Litres now",
  "litres.soil_deficit": "from the soil deficit to field capacity; {0} L since the latest reading subtracted",
  "litres.guideline": "no soil value: the guideline of 100 L per tree and week less the last 7 days' waterings",
  "litres.not_needed": "good soil, not critical within a day",
  "outlook.critical_now": "critical now", "outlook.in": "critical in {0} days", "outlook.not_within": "not critical within {0} days",
  "outlook.unknown": "unknown", "outlook.rain": "rain expected: {0} mm",
  "soil.rain": "Rain (forecast)", "soil.forecast": "3-day forecast",
  "season.title": "Watering season: litres per district against the guideline", "season.year": "Season", "season.districts": "Districts",
  "season.district": "District", "season.trees": "Trees", "season.waterings": "Waterings", "season.litres": "Given",
  "season.guideline": "Guideline (100 L per tree and week)", "season.share": "Share", "season.unwatered": "Unwatered",
  "season.shareOf": "Share of the guideline, {0}", "season.below": "Trees below the guideline",
  "season.treeRow": "{0} ({1}): {2} L of {3} L, {4} waterings", "season.noneBelow": "No tree below the guideline.",
  "season.notStarted": "The season (1 March to 1 November) has not started yet.", "season.more": "and {0} more",
  "season.period": "{0} to {1}, {2} weeks", "season.failed": "Season report not loaded: {0}",
  "trees.forecastError": "(error {0})", "season.saved": "Saved",
  "season.savedDef": "Saved: in every week a tree was not critical (no critical day, readings on at least half its days), the plan's litres (100 L per tree and week) that were not given. Weeks without enough readings save nothing.",
  "season.stayed": "Critical for more than {0} days", "season.stayedRow": "{0} ({1}): critical {2} days in a row, {3} to {4}; {5} critical days",
  "season.noneStayed": "No tree critical for more than {0} days in a row.",
  "season.stayedDef": "Critical: a sensor's daily mean beyond analytics' critical edge (tension from analytics.trees.critical_kpa on, moisture at the soil profile's critical level). A day without a reading is unknown and breaks the run.",
  "season.uptime": "Sensor uptime", "season.sensor": "Sensor", "season.tree": "Tree", "season.received": "Received",
  "season.expected": "Expected", "season.uptimeShare": "Uptime", "season.daysWith": "Days with readings",
  "season.uptimeDef": "Expected: the season's length divided by the sensor's reporting interval (api.season.sensor_interval, the LSE01's factory 20 min).",
  "season.noSensors": "No trees with a sensor.",
});

// Media, the learned normal, the forecast's backtest; the resident's Abschlag and data resolution (issue 21).
Object.assign(TEXTS.de, {
  medium: "Medium", "medium.electricity": "Strom", "medium.heat": "Wärme", "medium.gas": "Gas", "medium.water": "Wasser",
  "medium.note.gas": "Gas in m³; in kWh (Brennwert × Zustandszahl), wo eine Umrechnung hinterlegt ist.",
  "medium.note.water": "Wasser in m³.",
  "normal.title": "Heute gegen Normal", "normal.label": "Strom heute gegen einen normalen {0} bis {1}",
  "normal.detail": "{0} gemessen, normal {1} (ganzer Tag normal {2}); gelernt aus den 4 Wochen vor heute.",
  "normal.slp": "Noch {0} Tage eigene Messwerte: Normal aus dem Standardlastprofil.",
  "normal.none": "Noch keine Messwerte, aus denen ein Normal gelernt werden kann.",
  "backtest.title": "Prognosefehler (Backtest)",
  "backtest.text": "± {0} % je Tag (mittlerer absoluter Fehler der Tagesprognose an den letzten {1} Tagen dieses Gebäudes; {2} davon in der Spanne)",
  "backtest.none": "noch nicht bestimmbar: kein ganzer Tag mit Messwerten und Vorlauf",
  "bill.title": "Jahresabrechnung gegen Abschlag", "bill.advance": "Abschläge {0}: {1} × {2} = {3}",
  "bill.back": "Sie bekommen voraussichtlich etwa {0} zurück", "bill.extra": "Sie zahlen voraussichtlich etwa {0} nach",
  "bill.band": "Spanne der Prognose: {0} bis {1}", "bill.backShort": "{0} zurück", "bill.extraShort": "{0} Nachzahlung", "bill.even": "ausgeglichen",
  "bill.noAdvance": "Kein Abschlag hinterlegt: die Hausverwaltung oder der Versorger kann ihn eintragen lassen.",
  "bill.noForecast": "Noch keine Prognose der Jahresrechnung.",
  "res.title": "Wie genau die Werte sind", "res.every": "{0}: Messwerte alle {1}", "res.observed": "{0}: Messwerte etwa alle {1} (gemessen)",
  "res.unknown": "{0}: Abstand der Messwerte noch unbekannt", "res.wholeKwh": "{0}: Zählerstand nur in ganzen kWh und keine Momentanleistung: beim Messstellenbetreiber die PIN für die erweiterte Anzeige erfragen.",
  "res.noPower": "keine Momentanleistung",
});
Object.assign(TEXTS.en, {
  medium: "Medium", "medium.electricity": "Electricity", "medium.heat": "Heat", "medium.gas": "Gas", "medium.water": "Water",
  "medium.note.gas": "Gas in m³; in kWh (calorific value × Z factor) where a conversion is configured.",
  "medium.note.water": "Water in m³.",
  "normal.title": "Today against normal", "normal.label": "Electricity today against a normal {0} up to {1}",
  "normal.detail": "{0} measured, normal {1} (whole day normal {2}); learned from the 4 weeks before today.",
  "normal.slp": "Only {0} days of own readings yet: the normal comes from the standard load profile.",
  "normal.none": "No readings yet to learn a normal from.",
  "backtest.title": "Forecast error (backtest)",
  "backtest.text": "± {0} % per day (mean absolute error of the day-ahead forecast on this building's last {1} days; {2} of them inside the range)",
  "backtest.none": "not known yet: no whole day with readings and history before it",
  "bill.title": "Year's bill against your advance payments", "bill.advance": "Advance payments {0}: {1} × {2} = {3}",
  "bill.back": "You will probably get back about {0}", "bill.extra": "You will probably pay about {0} extra",
  "bill.band": "forecast range: {0} to {1}", "bill.backShort": "{0} back", "bill.extraShort": "{0} extra", "bill.even": "even",
  "bill.noAdvance": "No advance payment configured: your landlord or supplier can have it entered.",
  "bill.noForecast": "No forecast of the year's bill yet.",
  "res.title": "How detailed the values are", "res.every": "{0}: a reading every {1}", "res.observed": "{0}: a reading about every {1} (measured)",
  "res.unknown": "{0}: spacing of the readings not known yet", "res.wholeKwh": "{0}: meter reading in whole kWh only and no live power: ask your metering operator (Messstellenbetreiber) for the PIN.",
  "res.noPower": "no live power",
});

// Cost and CO₂ per medium: the building's media table, the resident's other meters (issues 19 and 21).
Object.assign(TEXTS.de, {
  "media.title": "Kosten und CO₂ je Medium", "media.caption": "Je Medium: Verbrauch, Kosten brutto (netto darunter) und CO₂ des Jahres bis heute",
  "media.captionHome": "Je Zähler neben dem Strom oben: Verbrauch, Kosten brutto (netto darunter) und die Jahreskosten laut Prognose",
  "media.cost": "Kosten diesen Monat", "media.lastCost": "Kosten Vormonat", "media.co2": "CO₂ {0} bis heute", "media.yearCost": "Jahreskosten (Prognose)",
  "media.net": "netto {0}", "media.noTariff": "kein Tarif für {0} hinterlegt", "media.noFactor": "kein CO₂-Faktor für {0} hinterlegt",
  "media.noAmount": "Verbrauch unbekannt (keine Zählerwerte im Zeitraum)", "media.noConversion": "kWh unbekannt: keine Gasumrechnung (Brennwert × Zustandszahl) hinterlegt",
  "media.noForecast": "noch keine Prognose für dieses Medium",
  "media.hint": "Gas: Kosten und CO₂ auf die kWh nach DVGW G 685 (m³ × Zustandszahl × Brennwert); Wasser je m³. * = unvollständig. „–“: der Grund steht im Tooltip.",
  "home.media": "Gas, Wärme und Wasser",
});
Object.assign(TEXTS.en, {
  "media.title": "Cost and CO₂ per medium", "media.caption": "Per medium: consumption, gross cost (net below) and the year's CO₂ so far",
  "media.captionHome": "Per meter, next to the electricity above: consumption, gross cost (net below) and the year's cost as forecast",
  "media.cost": "Cost this month", "media.lastCost": "Cost last month", "media.co2": "CO₂ {0} so far", "media.yearCost": "Year's cost (forecast)",
  "media.net": "net {0}", "media.noTariff": "no tariff for {0} configured", "media.noFactor": "no CO₂ factor for {0} configured",
  "media.noAmount": "consumption unknown (no meter readings in the period)", "media.noConversion": "kWh unknown: no gas conversion (calorific value × Z factor) configured",
  "media.noForecast": "no forecast for this medium yet",
  "media.hint": "Gas: cost and CO₂ on the kWh after DVGW G 685 (m³ × Z factor × calorific value); water per m³. * = incomplete. \"–\": hover for the reason.",
  "home.media": "Gas, heat and water",
});

// The town overview's today against normal and the building's month-end backtest (helper F, issues 19 and 21).
Object.assign(TEXTS.de, {
  "ov.normal": "Heute gegen Normal", "ov.outside": "außerhalb des Normalbereichs",
  "ov.normalHint": "Heute gegen Normal: Verbrauch bis zur vollen Stunde gegen das gelernte Normal derselben Stunden (Strom); ⚠ = außerhalb der Spanne p10–p90",
  "ov.normalNotYet": "noch keine volle Stunde heute gemessen",
  "acc.title": "Prognosefehler Monatsende (Rückrechnung)", "acc.day": "± {0} % am {1}.",
  "acc.months": "des Monats (mittlerer absoluter Fehler, an den letzten {0} vollen Monaten dieses Gebäudes nachgerechnet; {1} von {2} Monatsenden in der Spanne)",
  "acc.notEnough": "zu wenig Verlauf: {0} volle Monate mit Messwerten, mindestens 2 nötig",
  "acc.none": "nicht bestimmbar",
});
Object.assign(TEXTS.en, {
  "ov.normal": "Today against normal", "ov.outside": "outside the normal range",
  "ov.normalHint": "Today against normal: use up to the whole hour against the learned normal of the same hours (electricity); ⚠ = outside the p10–p90 range",
  "ov.normalNotYet": "no whole hour measured today yet",
  "acc.title": "Month-end forecast error (backtest)", "acc.day": "± {0} % on day {1}",
  "acc.months": "of the month (mean absolute error, recomputed on this building's last {0} whole months; {1} of {2} month-ends inside the range)",
  "acc.notEnough": "not enough history: {0} whole months with readings, at least 2 needed",
  "acc.none": "not known",
});

// `?lang=en` (a link in English) wins over the stored choice.
export let lang = (new URLSearchParams(location.search).get("lang") || localStorage.getItem("zw-lang")) === "en" ? "en" : "de";
// The browser's locale if it speaks the chosen language, else the language's usual one.
const locale = () => (navigator.languages || [navigator.language]).find(l => l && l.startsWith(lang)) || (lang === "de" ? "de-DE" : "en-GB");

export function setLang(l) {
  lang = l;
  localStorage.setItem("zw-lang", l);
  document.documentElement.lang = l;
}

/** The text for `key` with `{0}`, `{1}`, … replaced by `args`; the key itself if there is none. */
export function t(key, ...args) {
  const s = TEXTS[lang][key] ?? TEXTS.de[key] ?? key;
  return s.replace(/\{(\d)\}/g, (_, i) => String(args[i]));
}

export const num = (v, digits = 0) =>
  new Intl.NumberFormat(locale(), { minimumFractionDigits: digits, maximumFractionDigits: digits }).format(v);

/** Watts as W or kW; a missing value is shown as "–", never as 0. */
export function watts(w) {
  if (w === null || w === undefined || !Number.isFinite(w)) return "–";
  return Math.abs(w) >= 1000 ? num(w / 1000, 2) + " kW" : num(w, 0) + " W";
}

export function kwh(wh, digits) {
  if (wh === null || wh === undefined) return "–";
  const k = wh / 1000;
  return num(k, digits ?? (Math.abs(k) < 10 ? 2 : Math.abs(k) < 100 ? 1 : 0)) + " kWh";
}

export function money(v, currency) {
  if (v === null || v === undefined) return "–";
  return new Intl.NumberFormat(locale(), { style: "currency", currency: currency || "EUR" }).format(v);
}

export function pct(ratio) {
  if (ratio === null || ratio === undefined || !Number.isFinite(ratio)) return "–";
  return new Intl.NumberFormat(locale(), { style: "percent", signDisplay: "exceptZero", maximumFractionDigits: 0 }).format(ratio);
}

export const date = (d, opts) => new Intl.DateTimeFormat(locale(), opts || { dateStyle: "medium" }).format(new Date(d));
export const dateTime = d => new Intl.DateTimeFormat(locale(), { dateStyle: "short", timeStyle: "short" }).format(new Date(d));
export const time = d => new Intl.DateTimeFormat(locale(), { timeStyle: "short" }).format(new Date(d));
export const monthName = d => new Intl.DateTimeFormat(locale(), { month: "short", year: "2-digit" }).format(new Date(d));

// The soil chart's rain that fell (issue 21): the weather feed's observed rain per day, beside the forecast.
Object.assign(TEXTS.de, { "soil.rainFell": "Regen (gefallen)", "soil.observed": "gemessen", "soil.rainMm": "Regen" });
Object.assign(TEXTS.en, { "soil.rainFell": "Rain (fell)", "soil.observed": "observed", "soil.rainMm": "Rain" });
