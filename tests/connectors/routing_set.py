"""Realistic requests, each labelled with the connector (``Connector.name``) that should serve it.

Written the way people talk to a voice assistant, not copied from the connectors' own
``examples`` (those are what the descriptions were written around; these check whether the
descriptions generalise). A connector added to ``src/connectors`` without requests here makes
``test_routing.py`` fail: add two or three when you add one. Used by the scripted routing
test and by ``bench/routing_accuracy.py`` against a real model.
"""

from __future__ import annotations

REQUESTS: dict[str, tuple[str, ...]] = {
    "banking": (
        "how much money is in my checking account",
        "what did I spend on groceries last week",
        "show my recent credit card transactions",
    ),
    "brokerage": (
        "how much cash do I have to invest in my brokerage account",
        "buy 3 shares of Google for my portfolio",
        "what positions am I holding right now",
    ),
    "clipboard": (
        "read out what I copied",
        "put this phone number on the clipboard: 555 0199",
    ),
    "clock": (
        "what's the time in Sydney right now",
        "how many days are left until Christmas",
        "if it's 9 in the morning here what time is it in Los Angeles",
    ),
    "crypto": (
        "how much is one bitcoin worth right now",
        "what's ethereum trading at in euros",
        "is dogecoin up or down today",
    ),
    "desktop_open": (
        "open the Downloads folder on my computer",
        "open github.com in the browser",
    ),
    "events": (
        "are there any concerts in Austin this weekend",
        "when is Coldplay touring near Manchester",
        "find me tickets for a comedy show in New York on Friday",
    ),
    "flight_status": (
        "is flight AF1234 delayed",
        "has my flight BA117 landed yet",
        "which gate does the Lufthansa flight LH902 leave from",
    ),
    "flights": (
        "find me the cheapest flight from London to Rome next Tuesday",
        "how much does it cost to fly from Berlin to Lisbon in March",
        "search one-way flights from JFK to San Francisco on the 14th",
    ),
    "gmail": (
        "did I get an email from the bank today",
        "read me my latest unread email",
        "send an email to maria@example.com saying the report is ready",
    ),
    "google_calendar": (
        "what's on my calendar tomorrow",
        "am I free on Thursday at 3pm",
        "add a dentist appointment to my calendar next Monday at 10",
    ),
    "google_drive": (
        "find the quarterly report in my Google Drive",
        "open my drive doc called meeting notes and tell me what it says",
        "which files in drive mention the budget",
    ),
    "local_business": (
        "recommend a good sushi restaurant in Boston",
        "what are the reviews like for Joe's Pizza in Brooklyn",
        "find a highly rated cafe with good coffee in Portland that is open now",
    ),
    "location": (
        "which city does Hark think I'm in",
        "what's my current location",
    ),
    "news": (
        "what are today's top headlines",
        "any news about the elections",
        "give me the latest technology news",
    ),
    "notes": (
        "make a note that the plumber comes on Friday",
        "read back my notes about the garden",
        "delete my note called shopping list",
    ),
    "notion": (
        "what's on my reading list page in Notion",
        "add 'buy stamps' to my errands page in Notion",
    ),
    "places": (
        "where is the Louvre",
        "what's the address of the Sydney Opera House",
        "is there a park near Kensington",
    ),
    "shopping": (
        "how much is a PlayStation 5 at Best Buy",
        "find me a cheap laptop with good ratings",
        "are there any deals on air fryers",
    ),
    "slack": (
        "what did people say in the marketing channel on Slack",
        "post 'standup moved to 10' in the team channel on Slack",
        "list my slack channels",
    ),
    "sms": (
        "text my brother at +1 555 010 2233 that I'm running late",
        "send a text message to +44 7700 900456 saying dinner is at eight",
    ),
    "stocks": (
        "what's Microsoft's share price",
        "how is Nvidia stock doing today",
        "what's the ticker symbol for Amazon",
    ),
    "system_status": (
        "how much battery is left on my laptop",
        "am I connected to the internet",
        "how much free disk space do I have",
    ),
    "timers": (
        "set a timer for twenty minutes",
        "remind me to take the bread out at 5pm",
        "cancel my tea timer",
    ),
    "trains": (
        "when is the next train from Basel to Zurich",
        "how do I get from Bern to Lucerne by train tomorrow morning",
        "which platform does the train to Geneva leave from in Lausanne",
    ),
    "unit_convert": (
        "how many pounds is 5 kilograms",
        "convert 30 degrees Celsius to Fahrenheit",
        "what's 18 percent of 65",
    ),
    "weather": (
        "will it rain in Dublin tomorrow",
        "what's the temperature in Madrid right now",
        "what's the weather forecast for the weekend in Oslo",
    ),
    "web_reader": (
        "summarise https://example.com/blog/post-42 for me",
        "open this link and tell me what it says https://example.org/about",
        "what does the page at https://example.net/faq say about refunds",
    ),
    "web_search": (
        "search the web for the best hiking boots",
        "look up who won the Champions League final",
        "search online for reviews of the new electric cars",
    ),
    "wikipedia": (
        "who was Marie Curie",
        "tell me about the history of the Roman Empire on Wikipedia",
        "what is quantum entanglement, give me the encyclopedia summary",
    ),
}

ROUTING_SET: tuple[tuple[str, str], ...] = tuple(
    (text, name) for name, texts in REQUESTS.items() for text in texts
)
"""(request, connector name) pairs, in a stable order."""
