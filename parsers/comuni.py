"""Names of Italian comuni, as in the ISTAT list, used to recognise the comune of an address.

Not the full list (about 7,900 names, not available offline here): every comune of the Città
metropolitana di Milano and of the Provincia di Monza e della Brianza, the larger comuni of the
rest of Lombardy and every capoluogo di provincia. An address whose comune is not here keeps
its text in ``sede_legale`` and leaves ``comune`` empty with a warning, for staff to check.
"""

from __future__ import annotations

MILANO = (
    "Abbiategrasso", "Albairate", "Arconate", "Arese", "Arluno", "Assago", "Baranzate",
    "Bareggio", "Basiano", "Basiglio", "Bellinzago Lombardo", "Bernate Ticino", "Besate",
    "Binasco", "Boffalora sopra Ticino", "Bollate", "Bresso", "Bubbiano", "Buccinasco",
    "Buscate", "Bussero", "Busto Garolfo", "Calvignasco", "Cambiago", "Canegrate", "Carpiano",
    "Carugate", "Casarile", "Casorezzo", "Cassano d'Adda", "Cassina de' Pecchi",
    "Cassinetta di Lugagnano", "Castano Primo", "Cernusco sul Naviglio", "Cerro al Lambro",
    "Cerro Maggiore", "Cesano Boscone", "Cesate", "Cinisello Balsamo", "Cisliano",
    "Cologno Monzese", "Colturano", "Corbetta", "Cormano", "Cornaredo", "Corsico", "Cuggiono",
    "Cusago", "Cusano Milanino", "Dairago", "Dresano", "Gaggiano", "Garbagnate Milanese",
    "Gessate", "Gorgonzola", "Grezzago", "Gudo Visconti", "Inveruno", "Inzago", "Lacchiarella",
    "Lainate", "Legnano", "Liscate", "Locate di Triulzi", "Magenta", "Magnago",
    "Marcallo con Casone", "Masate", "Mediglia", "Melegnano", "Melzo", "Mesero", "Milano",
    "Morimondo", "Motta Visconti", "Nerviano", "Nosate", "Novate Milanese", "Noviglio", "Opera",
    "Ossona", "Ozzero", "Paderno Dugnano", "Pantigliate", "Parabiago", "Paullo", "Pero",
    "Peschiera Borromeo", "Pessano con Bornago", "Pieve Emanuele", "Pioltello",
    "Pogliano Milanese", "Pozzo d'Adda", "Pozzuolo Martesana", "Pregnana Milanese",
    "Rescaldina", "Rho", "Robecchetto con Induno", "Robecco sul Naviglio", "Rodano", "Rosate",
    "Rozzano", "San Colombano al Lambro", "San Donato Milanese", "San Giorgio su Legnano",
    "San Giuliano Milanese", "San Vittore Olona", "San Zenone al Lambro", "Santo Stefano Ticino",
    "Sedriano", "Segrate", "Senago", "Sesto San Giovanni", "Settala", "Settimo Milanese",
    "Solaro", "Trezzano Rosa", "Trezzano sul Naviglio", "Trezzo sull'Adda", "Tribiano",
    "Truccazzano", "Turbigo", "Vanzaghello", "Vanzago", "Vaprio d'Adda", "Vermezzo con Zelo",
    "Vernate", "Vignate", "Villa Cortese", "Vimodrone", "Vittuone", "Vizzolo Predabissi",
    "Zibido San Giacomo",
)
MONZA_BRIANZA = (
    "Agrate Brianza", "Aicurzio", "Albiate", "Arcore", "Barlassina", "Bellusco", "Bernareggio",
    "Besana in Brianza", "Biassono", "Bovisio-Masciago", "Briosco", "Brugherio",
    "Burago di Molgora", "Busnago", "Camparada", "Caponago", "Carate Brianza", "Carnate",
    "Cavenago di Brianza", "Ceriano Laghetto", "Cesano Maderno", "Cogliate", "Concorezzo",
    "Cornate d'Adda", "Correzzana", "Desio", "Giussano", "Lazzate", "Lentate sul Seveso",
    "Lesmo", "Limbiate", "Lissone", "Macherio", "Meda", "Mezzago", "Misinto", "Monza",
    "Muggiò", "Nova Milanese", "Ornago", "Renate", "Roncello", "Ronco Briantino", "Seregno",
    "Seveso", "Sovico", "Sulbiate", "Triuggio", "Usmate Velate", "Varedo", "Vedano al Lambro",
    "Veduggio con Colzano", "Verano Brianza", "Villasanta", "Vimercate",
)
LOMBARDIA = (
    "Bergamo", "Brescia", "Como", "Cremona", "Lecco", "Lodi", "Mantova", "Pavia", "Sondrio",
    "Varese", "Busto Arsizio", "Gallarate", "Saronno", "Vigevano", "Crema", "Treviglio",
    "Seriate", "Dalmine", "Cantù", "Erba", "Voghera", "Chiari", "Desenzano del Garda",
    "Lumezzane", "Codogno", "Casalpusterlengo", "Caravaggio", "Romano di Lombardia",
    "Cassano Magnago", "Tradate", "Mariano Comense", "Merate", "Calolziocorte", "Casatenovo",
    "Sant'Angelo Lodigiano", "Lodi Vecchio", "Mortara", "Stradella", "Casalmaggiore",
    "Castiglione delle Stiviere", "Suzzara", "Viadana", "Rezzato", "Ghedi", "Montichiari",
    "Palazzolo sull'Oglio", "Rovato", "Gussago", "Darfo Boario Terme", "Morbegno", "Chiavenna",
    "Tirano", "Luino", "Malnate", "Somma Lombardo", "Caronno Pertusella", "Uboldo",
    "Olgiate Olona", "Fagnano Olona", "Castellanza", "Lonate Pozzolo", "Ferno",
    "Cardano al Campo", "Samarate", "Arcisate", "Induno Olona", "Lomazzo", "Cermenate",
    "Olgiate Comasco", "Fino Mornasco", "Cabiate", "Lurate Caccivio", "Trezzo sull'Adda",
    "Brembate", "Capriate San Gervasio", "Canonica d'Adda", "Fara Gera d'Adda", "Arzago d'Adda",
    "Rivolta d'Adda", "Spino d'Adda", "Pandino", "Agnadello", "Zelo Buon Persico",
    "Mulazzano", "Casalmaiocco", "Tavazzano con Villavesco", "Lurano", "Calusco d'Adda",
)
CAPOLUOGHI = (
    "Agrigento", "Alessandria", "Ancona", "Andria", "Aosta", "Arezzo", "Ascoli Piceno", "Asti",
    "Avellino", "Bari", "Barletta", "Belluno", "Benevento", "Biella", "Bologna", "Bolzano",
    "Brindisi", "Cagliari", "Caltanissetta", "Campobasso", "Carbonia", "Caserta", "Catania",
    "Catanzaro", "Chieti", "Cosenza", "Crotone", "Cuneo", "Enna", "Fermo", "Ferrara", "Firenze",
    "Foggia", "Forlì", "Frosinone", "Genova", "Gorizia", "Grosseto", "Imperia", "Isernia",
    "L'Aquila", "La Spezia", "Latina", "Lecce", "Livorno", "Lucca", "Macerata", "Massa",
    "Matera", "Messina", "Modena", "Napoli", "Novara", "Nuoro", "Oristano", "Padova",
    "Palermo", "Parma", "Perugia", "Pesaro", "Pescara", "Piacenza", "Pisa", "Pistoia",
    "Pordenone", "Potenza", "Prato", "Ragusa", "Ravenna", "Reggio Calabria", "Reggio Emilia",
    "Reggio nell'Emilia", "Rieti", "Rimini", "Roma", "Rovigo", "Salerno", "Sassari", "Savona",
    "Siena", "Siracusa", "Taranto", "Teramo", "Terni", "Torino", "Trani", "Trapani", "Trento",
    "Treviso", "Trieste", "Udine", "Urbino", "Venezia", "Verbania", "Vercelli", "Verona",
    "Vibo Valentia", "Vicenza", "Viterbo", "Cesena",
)
COMUNI: tuple[str, ...] = tuple(dict.fromkeys((*MILANO, *MONZA_BRIANZA, *LOMBARDIA, *CAPOLUOGHI)))
